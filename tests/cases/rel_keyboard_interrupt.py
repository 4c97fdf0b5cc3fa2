"""forward raises KeyboardInterrupt (what Ctrl+C in a terminal does at that line)."""
import torch
import torch.nn as nn


class Impatient(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        x = self.fc(x)
        raise KeyboardInterrupt  # <- interrupted


def build_model():
    return Impatient()


def example_inputs():
    return torch.randn(2, 4)

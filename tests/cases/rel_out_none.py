"""Issue 10 outcome case: forward returns None."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        return None


def build_model():
    return Model()


def example_inputs():
    return torch.randn(2, 4)

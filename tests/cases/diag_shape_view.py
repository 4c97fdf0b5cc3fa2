"""A reshape with a hard-coded feature count that is wrong."""
import torch
import torch.nn as nn


class Reshaper(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3)
        self.fc = nn.Linear(100, 2)

    def forward(self, x):
        h = self.conv(x)
        h = h.view(x.shape[0], 100)  # <- shape-mismatch
        return self.fc(h)


def build_model():
    return Reshaper()


def example_inputs():
    return torch.randn(2, 3, 8, 8)

"""A forward that never returns (an endless loop between module calls)."""

import torch
import torch.nn as nn


class Spin(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        x = self.fc(x)
        while True:
            x = x + 0  # <- timeout
        return x


def build_model():
    return Spin()


def example_inputs():
    return torch.randn(1, 2)

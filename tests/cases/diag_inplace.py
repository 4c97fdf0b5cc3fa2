"""An in-place scaling of a sigmoid's output: sigmoid needs that output for its backward."""
import torch
import torch.nn as nn


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        g = torch.sigmoid(self.fc(x))
        g.mul_(2.0)  # <- inplace-modification
        return x * g


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = Gate()
        self.out = nn.Linear(6, 1)

    def forward(self, x):
        return self.out(self.gate(x))


def build_model():
    return Model()


def example_inputs():
    return torch.randn(3, 6)

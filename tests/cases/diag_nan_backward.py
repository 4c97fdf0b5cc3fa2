"""A gate that takes the square root of weight * x: finite in forward, but the derivative of
sqrt at 0 is infinite, so backward makes NaN for the gate's weight."""
import torch
import torch.nn as nn


class SqrtGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return torch.sqrt(self.weight * x)  # <- non-finite


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.gate = SqrtGate()
        self.out = nn.Linear(4, 1)

    def forward(self, x):
        return self.out(self.gate(torch.relu(self.fc(x))))


def build_model():
    torch.manual_seed(0)
    return Model()


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(6, 4)

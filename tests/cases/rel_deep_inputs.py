"""Inputs nested 5,000 lists deep: walking them recursively must not crash the debugger."""
import torch
import torch.nn as nn


class Unwrap(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, nested):
        while isinstance(nested, list):
            nested = nested[0]
        return self.fc(nested)


def build_model():
    return Unwrap()


def example_inputs():
    value = torch.randn(3, 4)
    for _ in range(5000):
        value = [value]
    return (value,)

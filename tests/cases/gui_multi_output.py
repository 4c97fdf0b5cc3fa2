"""A block returning three values (features, attention weights, a count), as attention blocks
do: the tree must say what "+2" was."""

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        h = self.proj(x)
        weights = torch.softmax(h @ h.T, dim=-1)
        return h, weights, 3


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        h, _weights, _count = self.block(x)
        return self.head(h)


def build_model():
    torch.manual_seed(0)
    return Model()


def example_inputs():
    return torch.randn(5, 4)

"""A clean nested model: a block reused three times, a Sequential inside a custom module."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)  # <- site:block.fc
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(4, 8), nn.ReLU())  # <- site:stem
        self.shared = Block(8)  # <- site:shared
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        h = self.stem(x)
        for _ in range(3):
            h = self.shared(h)
        return self.head(h)


def build_model():
    torch.manual_seed(0)
    return Net()  # <- site:root


def example_inputs():
    return torch.randn(5, 4)


def loss(output):
    return F.cross_entropy(output, torch.tensor([0, 1, 0, 1, 1]))

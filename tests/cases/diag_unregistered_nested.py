"""A whole block kept in a plain list: one unregistered Sequential holding four modules is one
warning, not one per module inside it."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(3, 8)
        self.extra = [nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh())]  # <- unregistered-module
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        h = self.embed(x)
        for block in self.extra:
            h = block(h)
        return self.head(h)


def build_model():
    return Net()


def example_inputs():
    return torch.randn(4, 3)


def loss(output):
    return output.pow(2).mean()

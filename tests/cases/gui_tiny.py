"""A clean little model for GUI stepping tests: root -> body(Sequential: fc1, act, fc2) -> head."""

import torch
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        print("forward called")
        return self.head(self.body(x))


def build_model():
    torch.manual_seed(0)
    return Tiny()


def example_inputs():
    return torch.randn(3, 4)


def loss(output):
    return output.pow(2).mean()

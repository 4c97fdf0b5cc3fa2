"""Example: a forward that is finite but whose backward makes NaN (NaN in backward).

A distance layer takes sqrt of a squared distance that is exactly zero for identical points.
sqrt(0) is fine, but its gradient 1 / (2 * sqrt(0)) is infinite, and backward turns it into
NaN. Press F5: the forward runs clean; backward stops where the first non-finite gradient is
born.
"""

import torch
import torch.nn as nn


class PairDistance(nn.Module):
    def forward(self, a, b):
        return ((a - b) ** 2).sum(dim=1).sqrt()  # bug: add an epsilon inside the sqrt


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(6, 4)
        self.distance = PairDistance()

    def forward(self, x):
        e = self.embed(x)
        return self.distance(e, e.flip(0))  # the middle row is compared with itself


def build_model():
    torch.manual_seed(0)
    return Siamese()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(5, 6)


def loss(output):
    return output.mean()

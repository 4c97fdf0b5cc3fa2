"""Pooling that divides by a count of kept positions; a row with nothing kept is 0/0."""
import torch
import torch.nn as nn


class KeptMean(nn.Module):
    def forward(self, x, keep):
        total = (x * keep).sum(dim=1)
        count = keep.sum(dim=1)
        return total / count  # <- non-finite


class Pooler(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(4, 6)
        self.pool = KeptMean()
        self.head = nn.Linear(6, 2)

    def forward(self, x, keep):
        return self.head(self.pool(self.embed(x), keep))


def build_model():
    return Pooler()


def example_inputs():
    keep = torch.ones(3, 5, 1)
    keep[2] = 0.0
    return torch.randn(3, 5, 4), keep

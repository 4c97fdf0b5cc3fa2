"""Two branches concatenated, one of which pooled the sequence away."""
import torch
import torch.nn as nn


class TwoTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.left = nn.Linear(6, 4)
        self.right = nn.Linear(6, 4)

    def forward(self, x):
        a = self.left(x)
        b = self.right(x).mean(dim=1)
        return torch.cat([a, b], dim=-1)  # <- shape-mismatch


def build_model():
    return TwoTower()


def example_inputs():
    return torch.randn(3, 5, 6)

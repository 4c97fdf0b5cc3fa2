"""A LayerNorm sized for the wrong hidden width."""
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width=24):
        super().__init__()
        self.proj = nn.Linear(16, width)
        self.norm = nn.LayerNorm(16)  # <- shape-mismatch

    def forward(self, x):
        return self.norm(self.proj(x))


def build_model():
    return Block()


def example_inputs():
    return torch.randn(2, 5, 16)

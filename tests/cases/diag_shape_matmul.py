"""Attention scores computed with the key not transposed."""
import torch
import torch.nn as nn


class Attention(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)

    def forward(self, x):
        q, k = self.q(x), self.k(x)
        scores = q @ k  # <- shape-mismatch
        return scores.softmax(dim=-1)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = Attention()

    def forward(self, x):
        return self.attn(x)


def build_model():
    return Model()


def example_inputs():
    return torch.randn(2, 5, 8)

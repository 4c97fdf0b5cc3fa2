"""Activation checkpointing of both kinds: reentrant and non-reentrant."""
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class Deep(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(12, 24), nn.GELU(), nn.Linear(24, 12))
        self.b = nn.Sequential(nn.Linear(12, 24), nn.GELU(), nn.Linear(24, 12))
        self.head = nn.Linear(12, 2)

    def forward(self, x):
        x = x + checkpoint(self.a, x, use_reentrant=True)
        x = x + checkpoint(self.b, x, use_reentrant=False)
        return self.head(x)


def build_model():
    torch.manual_seed(0)
    return Deep()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(6, 12, requires_grad=True)


def loss(output):
    return output.pow(2).mean()

"""A tensor made inside forward without device=: fine on CPU, fails as soon as the model runs
on CUDA (the dry run, on meta, sees it)."""
import torch
import torch.nn as nn


class Pooler(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(12, 12)

    def forward(self, x):
        weights = torch.ones(x.shape[1]) / x.shape[1]
        return (self.proj(x) * weights[None, :, None]).sum(1)  # <- device-mismatch


def build_model():
    return Pooler()


def example_inputs():
    return torch.randn(3, 7, 12)

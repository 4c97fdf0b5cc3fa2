"""A three-layer MLP whose last Linear was written for 30 features; the layer before makes 20."""
import torch
import torch.nn as nn


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(12, 20),  # <- producer
            nn.ReLU(),
            nn.Linear(30, 4),  # <- shape-mismatch
        )

    def forward(self, x):
        return self.body(x)


def build_model():
    return Regressor()


def example_inputs():
    return torch.randn(8, 12)

"""Positions built with a float length: torch.arange's many-line signature error."""
import torch
import torch.nn as nn


class Pos(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(32, 8)

    def forward(self, x):
        positions = torch.arange(0, x.shape[1], dtype="long")  # <- runtime-error
        return x + self.embed(positions)


def build_model():
    return Pos()


def example_inputs():
    return torch.randn(2, 6, 8)

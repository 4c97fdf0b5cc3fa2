"""A BatchNorm sized for the stem's channels, placed after a block that doubles them."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(8),  # <- shape-mismatch
        nn.ReLU(),
    )


def example_inputs():
    return torch.randn(2, 3, 8, 8)

"""Labels numbered 1..3 for a 3-class head (they should be 0..2)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def example_inputs():
    return torch.randn(6, 4)


def loss(output):
    labels = torch.tensor([1, 2, 3, 1, 2, 3])
    return F.cross_entropy(output, labels)  # <- label-out-of-range

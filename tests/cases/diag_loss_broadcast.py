"""A regression head returning [N, 1] scored against [N] targets: MSE silently broadcasts."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))


def example_inputs():
    return torch.randn(10, 3)


def loss(output):
    target = torch.linspace(0, 1, 10)
    return F.mse_loss(output, target)  # <- loss-shape-mismatch

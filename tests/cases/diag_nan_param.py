"""A model loaded from a checkpoint that a diverged training step filled with NaN."""
import torch
import torch.nn as nn


def build_model():
    model = nn.Sequential(
        nn.Linear(3, 6),
        nn.ReLU(),
        nn.Linear(6, 1),  # <- non-finite
    )
    with torch.no_grad():
        model[2].weight[0, 4] = float("nan")
    return model


def example_inputs():
    return torch.randn(4, 3)

"""A Linear whose in_features disagree with what the layer before produces (raises mid-forward)."""

import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(5, 2))


def example_inputs():
    return torch.randn(3, 4)

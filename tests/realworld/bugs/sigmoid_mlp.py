"""A 5-layer MLP with sigmoid between the layers: the first layer barely learns."""
import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(20, 64), nn.Sigmoid(),  # <- vanishing-gradient
        nn.Linear(64, 64), nn.Sigmoid(),
        nn.Linear(64, 64), nn.Sigmoid(),
        nn.Linear(64, 64), nn.Sigmoid(),
        nn.Linear(64, 3))


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(32, 20)


def loss(output):
    return nn.functional.cross_entropy(output, torch.arange(32) % 3)

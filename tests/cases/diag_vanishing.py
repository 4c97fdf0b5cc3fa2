"""Twelve sigmoid layers: each multiplies the gradient by at most 0.25 on its way back."""
import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    layers = []
    for _ in range(12):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]  # <- vanishing-gradient
    return nn.Sequential(*layers, nn.Linear(16, 1))


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(8, 16)


def loss(output):
    return (output - 1).pow(2).mean()

"""A finite model whose hand-written loss takes the log of a probability that underflows to 0."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Linear(3, 2))


def example_inputs():
    return torch.randn(4, 3)


def loss(output):
    p = torch.sigmoid(output * 1000)
    return -torch.log(1 - p).mean()  # <- non-finite

"""Issue 10 outcome case: a model without parameters (clean: nothing to train)."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.ReLU(), nn.Tanh())


def example_inputs():
    return torch.randn(2, 4)

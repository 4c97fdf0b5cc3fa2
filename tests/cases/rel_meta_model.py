"""Issue 10 outcome case: a model moved to the meta device in build_model()."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU()).to("meta")


def example_inputs():
    return torch.randn(2, 4)

"""build_model() raises: the window must show the diagnostic and keep working."""

import torch
import torch.nn as nn


def build_model():
    raise ValueError("hidden size must be even")


def example_inputs():
    return torch.randn(2, 2)

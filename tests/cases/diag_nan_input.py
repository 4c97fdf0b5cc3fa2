"""A batch with a missing measurement (NaN) in it: nothing in the model is to blame."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))


def example_inputs():
    batch = torch.randn(4, 3)
    batch[1, 2] = float("nan")
    return batch  # <- non-finite

"""A batch built with numpy (float64) fed to a float32 model."""
import numpy as np
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 1))


def example_inputs():
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.normal(size=(4, 5)))  # <- dtype-mismatch

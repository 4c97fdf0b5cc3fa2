"""Class weights computed with NumPy arrive as a float64 tensor in a float32 loss."""
import numpy as np
import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(6, 10)


def loss(output):
    counts = np.array([50.0, 30.0, 20.0])
    weight = torch.from_numpy(counts.sum() / counts)
    criterion = nn.CrossEntropyLoss(weight=weight)
    return criterion(output, torch.tensor([0, 1, 2, 0, 1, 2]))  # <- dtype-mismatch

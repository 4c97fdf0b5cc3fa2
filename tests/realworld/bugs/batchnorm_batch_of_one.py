"""BatchNorm1d in training mode fed a single sample: one value per channel, no variance."""
import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(),  # <- shape-mismatch
                         nn.Linear(16, 2)).train()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(1, 8)

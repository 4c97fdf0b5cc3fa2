"""Pixel counts loaded as integers and fed straight into a Linear layer."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 4))


def example_inputs():
    counts = torch.randint(0, 255, (2, 4, 4))
    return counts  # <- dtype-mismatch

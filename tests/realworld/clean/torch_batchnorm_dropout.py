"""A small CNN in training mode: BatchNorm with batch statistics and dropout."""
import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Dropout2d(0.2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(16, 4),
        nn.BatchNorm1d(4))
    return model.train()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(6, 3, 12, 12)


def loss(output):
    return nn.functional.cross_entropy(output, torch.tensor([0, 1, 2, 3, 0, 1]))

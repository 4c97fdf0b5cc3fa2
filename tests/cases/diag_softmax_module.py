"""nn.Softmax as the last layer of an nn.Sequential, then nn.CrossEntropyLoss."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(
        nn.Linear(5, 16),
        nn.ReLU(),
        nn.Linear(16, 3),
        nn.Softmax(dim=1),  # <- softmax-before-cross-entropy
    )


def example_inputs():
    return torch.randn(6, 5)


def loss(output):
    return nn.CrossEntropyLoss()(output, torch.tensor([0, 1, 2, 0, 1, 2]))

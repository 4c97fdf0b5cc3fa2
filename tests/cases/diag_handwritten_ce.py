"""A sentiment classifier trained with a cross-entropy written by hand: the labels, one class
index per row, multiply the log-probabilities instead of picking a column."""
import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = torch.tensor([0, 2, 1, 1, 0, 2, 2, 1])


def build_model():
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))


def example_inputs():
    return torch.randn(8, 16)


def loss(logits):
    log_probs = torch.log(F.softmax(logits, dim=1))
    return -(log_probs * LABELS.unsqueeze(1)).mean()  # <- hand-written-cross-entropy

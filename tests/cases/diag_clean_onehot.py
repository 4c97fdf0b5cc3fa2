"""A correct hand-written cross-entropy: one-hot targets shaped like the log-probabilities, and
a label-smoothed soft target. Neither is the class-index mistake."""
import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = torch.tensor([2, 0, 1, 1, 2, 0])


def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))


def example_inputs():
    return torch.randn(6, 8)


def loss(logits):
    log_probs = F.log_softmax(logits, dim=1)
    one_hot = F.one_hot(LABELS, 3)
    smoothed = one_hot * 0.9 + 0.1 / 3
    weights = torch.ones(6, 1) * 0.5  # a per-row weight of 0.5 is not a class index
    return -(one_hot * log_probs).sum(1).mean() - (smoothed * log_probs * weights).sum(1).mean()

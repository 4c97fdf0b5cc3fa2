"""The model ends in log_softmax; the loss multiplies its output by float labels as if they
were one-hot."""
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 4)

    def forward(self, x):
        return torch.log_softmax(self.proj(x), dim=-1)


def build_model():
    return Tagger()


def example_inputs():
    return torch.randn(4, 10)


def loss(log_probs):
    labels = torch.tensor([3.0, 0.0, 1.0, 3.0])
    return -(labels * log_probs).sum() / 4  # <- hand-written-cross-entropy

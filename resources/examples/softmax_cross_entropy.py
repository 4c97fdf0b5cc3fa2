"""Example: softmax applied twice (softmax before cross-entropy).

The model ends in nn.Softmax and the loss is F.cross_entropy, which applies log-softmax
itself. Training still runs, but the gradients are squashed and learning stalls. Press F5:
the run finishes with a warning that points at the Softmax layer.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(
        nn.Linear(10, 32),
        nn.ReLU(),
        nn.Linear(32, 5),
        nn.Softmax(dim=1),  # bug: remove it; cross_entropy expects raw logits
    )


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(8, 10)


def loss(output):
    return F.cross_entropy(output, torch.arange(8) % 5)

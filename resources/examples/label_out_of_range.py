"""Example: class labels that do not fit the classifier (label out of range).

Labels come from a file numbered 1..4 but the head has 4 outputs, indices 0..3. Press F5:
the loss diagnostic names the bad label and the number of classes, where CUDA would only
say "device-side assert triggered".
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 4))


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(8, 6)


def loss(output):
    labels = torch.tensor([1, 2, 3, 4, 4, 3, 2, 1])  # bug: numbered from 1; subtract 1
    return F.cross_entropy(output, labels)

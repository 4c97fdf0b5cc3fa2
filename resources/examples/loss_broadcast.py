"""Example: a loss whose target shape broadcasts silently (loss shape mismatch).

The model predicts one value per sample as [batch, 1]; the targets are [batch]. MSELoss
broadcasts them to [batch, batch] and trains on every pair: no error, just a wrong loss.
Press F5: the run finishes and the loss diagnostic names both shapes.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(16, 3)


def loss(output):
    target = torch.linspace(0, 1, 16)  # shape [16]
    return F.mse_loss(output, target)  # bug: output is [16, 1]; use output.squeeze(1)

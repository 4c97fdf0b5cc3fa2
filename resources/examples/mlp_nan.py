"""Example: a normalisation that divides by a sum that can be zero (NaN in forward).

Open it with `torchlens-gui resources/examples/mlp_nan.py` and press F5: the debugger stops at
the module where the NaN is born and shows the line.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class SumNorm(nn.Module):
    """Scales each row to sum to one. Rows that ReLU zeroed entirely divide 0 by 0."""

    def forward(self, x):
        return x / x.sum(dim=1, keepdim=True)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(16, 32),
            nn.ReLU(),
            nn.Linear(32, 8),
            nn.ReLU(),
        )
        self.norm = SumNorm()
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = self.encoder(x)
        h = self.norm(h)
        return self.head(h)


def build_model():
    torch.manual_seed(0)
    model = Classifier()
    with torch.no_grad():
        model.encoder[2].bias.fill_(-4.0)  # pushes most activations below zero
    return model


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(6, 16)


def loss(output):
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    return F.cross_entropy(output, target)

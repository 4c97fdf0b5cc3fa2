"""Example: a deep stack of sigmoid layers whose gradients fade (vanishing gradients).

Open it with `torchlens-gui resources/examples/deep_sigmoid.py`, press F5 to run to the end and
look at the Gradients panel: on its log scale each layer's gradient norm is several times
smaller than the one after it, so the first layers barely learn. Swap nn.Sigmoid for nn.ReLU
(or add normalisation / residual connections) and restart with Ctrl+Shift+F5 to compare.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    torch.manual_seed(0)
    layers = []
    for _ in range(10):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    layers.append(nn.Linear(32, 4))
    return nn.Sequential(*layers)


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(16, 32)


def loss(output):
    target = torch.arange(16) % 4
    return F.cross_entropy(output, target)

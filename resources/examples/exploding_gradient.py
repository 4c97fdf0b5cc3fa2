"""Example: gradients that grow layer after layer (exploding gradients).

A deep stack of linear layers initialised with weights far too large: each layer multiplies
the gradient again. Press F5 to run to the end and look at the Gradients panel: on its log
scale the norms climb by orders of magnitude toward the input.
"""

import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    layers = []
    for _ in range(12):
        layer = nn.Linear(32, 32)
        nn.init.normal_(layer.weight, std=1.0)  # bug: std 1 on 32 inputs; use the default init
        layers += [layer, nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(32, 1))


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(16, 32)


def loss(output):
    return output.pow(2).mean()

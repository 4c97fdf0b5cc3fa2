"""A run with an info, a warning and an error: a frozen encoder (info), softmax fed to
cross-entropy (warning, loss phase) and a log of negative values born in ``head.log`` (error)."""

import torch
import torch.nn as nn


class Log(nn.Module):
    def forward(self, x):
        return torch.log(x)  # <- nan-born: x has negative entries


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
        self.head = nn.Sequential(nn.Linear(8, 3), Log())

    def forward(self, x):
        return self.head(self.encoder(x))


def build_model():
    torch.manual_seed(0)
    model = Model()
    model.encoder.requires_grad_(False)
    return model


def example_inputs():
    return torch.randn(6, 4)

"""A projection layer constructed inside forward: new random weights on every call."""
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(10, 32)

    def forward(self, x):
        h = torch.relu(self.embed(x))
        proj = nn.Linear(32, 4)  # <- unregistered-module
        return proj(h)


def build_model():
    torch.manual_seed(0)
    return Encoder()


def example_inputs():
    return torch.randn(6, 10)


def loss(output):
    return output.pow(2).mean()

"""Fine-tuning a lazily sized head on a frozen encoder: both are worth knowing, neither is a
problem."""
import torch
import torch.nn as nn


class FineTune(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(10, 32), nn.ReLU())  # <- frozen-parameters
        self.head = nn.LazyLinear(4)  # <- lazy-module

    def forward(self, x):
        return self.head(self.encoder(x))


def build_model():
    model = FineTune()
    model.encoder.requires_grad_(False)
    return model


def example_inputs():
    return torch.randn(5, 10)


def loss(output):
    return output.pow(2).mean()

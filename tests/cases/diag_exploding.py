"""Ten linear layers initialised three times too large, with no normalisation between them."""
import torch
import torch.nn as nn


class Deep(nn.Module):
    def __init__(self, depth=10, width=16):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))  # <- exploding-gradient

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def build_model():
    torch.manual_seed(0)
    model = Deep()
    with torch.no_grad():
        for layer in model.layers:
            nn.init.normal_(layer.weight, std=3.0 / 16 ** 0.5)
    return model


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(4, 16)


def loss(output):
    return output.pow(2).mean()

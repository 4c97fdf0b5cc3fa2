"""One block applied three times (weight sharing) with a regression loss: no alarms."""
import torch
import torch.nn as nn


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 16)
        self.block = nn.Sequential(nn.Linear(16, 16), nn.Tanh(), nn.LayerNorm(16))
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        h = self.inp(x)
        for _ in range(3):
            h = h + self.block(h)
        return self.out(h)


def build_model():
    torch.manual_seed(0)
    return Shared()


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(8, 4)


def loss(output):
    return nn.functional.mse_loss(output, torch.zeros(8, 1))

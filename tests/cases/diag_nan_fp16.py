"""An energy term computed in float16: squaring values of a few hundred overflows 65504."""
import torch
import torch.nn as nn


class Energy(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Linear(4, 4)

    def forward(self, x):
        h = self.scale(x).half() * 300
        energy = (h * h).sum(dim=-1)  # <- non-finite
        return energy.float()


def build_model():
    torch.manual_seed(0)
    return Energy()


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(3, 4) * 3

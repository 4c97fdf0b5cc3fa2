"""A branch whose output is never used, next to a logging .item() on another branch: the
unused branch is named, and the .item() (which cut nothing of it) is not blamed."""
import torch
import torch.nn as nn


class TwoBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Linear(4, 4)
        self.unused = nn.Linear(4, 4)  # <- no-gradient
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        side = self.unused(x)
        h = self.used(x)
        print("mean activation", h.mean().item())
        return self.head(h)


def build_model():
    torch.manual_seed(0)
    return TwoBranches()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(3, 4)


def loss(output):
    return output.pow(2).mean()

"""A torch.compile'd helper function called inside forward."""
import torch
import torch.nn as nn


@torch.compile
def gated(x, gate):
    return x * torch.sigmoid(gate)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.value = nn.Linear(8, 16)
        self.gate = nn.Linear(8, 16)
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        return self.out(gated(self.value(x), self.gate(x)))


def build_model():
    torch.manual_seed(0)
    return Net()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(4, 8)


def loss(output):
    return nn.functional.cross_entropy(output, torch.tensor([0, 1, 1, 0]))

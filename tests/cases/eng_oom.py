"""Simulates the CUDA allocator running out of memory inside a module's forward."""

import torch
import torch.nn as nn


class Hungry(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(3, 3)
        self.big = Hungry()

    def forward(self, x):
        return self.big(self.enc(x))


def build_model():
    return Net()


def example_inputs():
    return torch.randn(2, 3)

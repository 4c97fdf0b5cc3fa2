"""A forward that raises something no detector knows: the fallback still names module and line."""
import torch
import torch.nn as nn


class Picky(nn.Module):
    def forward(self, x):
        if x.shape[0] < 4:
            raise ValueError("need at least 4 samples for the running statistics")  # <- runtime-error
        return x


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.picky = Picky()

    def forward(self, x):
        return self.picky(self.fc(x))


def build_model():
    return Model()


def example_inputs():
    return torch.randn(2, 3)

"""Issue 10 outcome case: a submodule registered under a name holding a dot."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Module()
        self.enc._modules["a.b"] = nn.Linear(4, 4)  # add_module refuses dots; the table does not
        self.enc.a = nn.Module()
        self.enc.a.b = nn.Linear(4, 4)

    def forward(self, x):
        return self.enc.a.b(self.enc._modules["a.b"](x))


def build_model():
    return Model()


def example_inputs():
    return torch.randn(2, 4)

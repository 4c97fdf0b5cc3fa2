import torch
import torch.nn as nn


class Router(nn.Module):
    def __init__(self):
        super().__init__()
        self.experts = nn.ModuleDict({"a": nn.Linear(4, 4), "b": nn.Linear(4, 4)})

    def forward(self, x, which):
        return self.experts[which](x)  # <- runtime-error


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(4, 4)
        self.router = Router()

    def forward(self, x):
        return self.router(self.pre(x), "c")


def build_model():
    return Net()


def example_inputs():
    return (torch.randn(2, 4),)

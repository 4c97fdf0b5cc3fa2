"""A NaN model with known values, for the `check --json` contract and the text report: the
identity layer passes the input through, and the second row sums to zero, so 0/0 is NaN."""

import torch
import torch.nn as nn


class Ratio(nn.Module):
    def forward(self, x):
        return x / x.sum(dim=1, keepdim=True)  # <- non-finite


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Linear(2, 2, bias=False)  # <- site:scale
        with torch.no_grad():
            self.scale.weight.copy_(torch.eye(2))
        self.ratio = Ratio()  # <- site:ratio

    def forward(self, x):
        return self.ratio(self.scale(x))


def build_model():
    return Net()


def example_inputs():
    return torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])

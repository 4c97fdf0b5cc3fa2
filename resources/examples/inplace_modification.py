"""Example: an in-place change to a value autograd still needs (in-place modification).

A gate scales its sigmoid output in place; sigmoid's backward needs that output unchanged,
so backward fails with "one of the variables needed for gradient computation has been
modified by an inplace operation". Press F5: the debugger names the module and the line.
"""

import torch
import torch.nn as nn


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        g = torch.sigmoid(self.fc(x))
        g.mul_(0.5)  # bug: in place; write g = g * 0.5
        return x * g


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), Gate(), nn.Linear(8, 1))


def example_inputs():
    return torch.randn(5, 4)


def loss(output):
    return output.mean()

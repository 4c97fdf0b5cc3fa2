"""Example: layers kept in a plain Python list (unregistered modules).

The blocks live in a list, not an nn.ModuleList, so model.parameters() and .to(device) never
see them: an optimizer would not train them. Press F5: the tree shows the blocks as
unregistered and a warning says how to register them.
"""

import torch
import torch.nn as nn


class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = [nn.Linear(16, 16) for _ in range(3)]  # bug: use nn.ModuleList(...)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        for block in self.blocks:
            x = torch.relu(block(x))
        return self.head(x)


def build_model():
    torch.manual_seed(0)
    return Tower()


def example_inputs():
    return torch.randn(4, 16)


def loss(output):
    return output.pow(2).mean()

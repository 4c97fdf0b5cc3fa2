"""Example: integer data fed to a float layer (dtype error).

Token counts loaded as integers go straight into nn.Linear, which needs floats. Press F5:
the debugger stops in the first layer and says which dtype it got and which it needs.
"""

import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))


def example_inputs():
    torch.manual_seed(0)
    return torch.randint(0, 10, (8, 5))  # bug: int64 counts; add .float()

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(8, hidden)
        self.fc2 = nn.Linear(hidden, -2)  # <- creation-error

    def forward(self, x):
        return self.fc2(self.fc1(x))


def build_model():
    return Net(hidden=4)


def example_inputs():
    return torch.randn(2, 8)

"""Issue 10 outcome case: forward returns a tensor nested in 3,000 lists."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        for _ in range(3000):
            y = [y]
        return y


def build_model():
    return Model()


def example_inputs():
    return torch.randn(2, 4)

"""Issue 10 outcome case: torch.set_default_device('meta') at module level."""
import torch
import torch.nn as nn

torch.set_default_device('meta')  # <- meta-model

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        return y


def build_model():
    return Model()


def example_inputs():
    return torch.randn(2, 4)

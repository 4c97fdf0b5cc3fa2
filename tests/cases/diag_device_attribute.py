"""A constant kept as a plain tensor attribute instead of a buffer, so model.to(device) leaves it
behind. On a CUDA run it stays on the CPU; here it is made on the meta device so the same
mismatch shows on a machine without a GPU."""
import torch
import torch.nn as nn


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = torch.full((4,), 0.5, device="meta")  # <- device-mismatch

    def forward(self, x):
        return self.fc(x) * self.scale


def build_model():
    return Scaled()


def example_inputs():
    return torch.randn(2, 4)

"""forward says it started (on stderr), then loops forever: for Ctrl+C and stop tests."""
import sys

import torch
import torch.nn as nn


class Endless(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        print("forward started", file=sys.stderr, flush=True)
        while True:  # <- endless
            x = x + 0


def build_model():
    return Endless()


def example_inputs():
    return torch.randn(2, 4)

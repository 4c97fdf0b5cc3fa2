"""A forward that never returns and reaches no module hook: Stop must interrupt it."""

import torch
import torch.nn as nn


class Spin(nn.Module):
    def forward(self, x):
        n = 0
        while True:  # an endless loop in pure Python
            n += 1


def build_model():
    return Spin()


def example_inputs():
    return torch.zeros(1)

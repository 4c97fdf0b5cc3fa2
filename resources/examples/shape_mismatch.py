"""Example: a layer sized for the wrong input (shape error).

An image classifier whose flatten size was computed for 32x32 images but is fed 28x28 ones.
Press F5: the debugger stops in `classifier` with the expected and the actual shape, names
the layer that produced the input and marks both lines. The fix is on the classifier line.
"""

import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 28x28 -> 14x14
        nn.Flatten(),
        nn.Linear(8 * 16 * 16, 10),  # bug: sized for 32x32 inputs (8 * 14 * 14 is right)
    )


def example_inputs():
    return torch.randn(4, 1, 28, 28)  # a batch of 4 MNIST-sized images

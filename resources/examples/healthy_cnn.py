"""Example (healthy): a small convolutional classifier with nothing wrong (small CNN).

Use it to learn the keys: F11 steps into each layer, F10 steps over, Shift+F11 steps out,
F5 runs to the end. Watch the Tensors panel fill in shapes and statistics, then the
Gradients panel after backward. The run ends with "no problems found".
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(32 * 8 * 8, classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def build_model():
    torch.manual_seed(0)
    return SmallCNN()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(4, 3, 32, 32)  # four 32x32 RGB images


def loss(output):
    return F.cross_entropy(output, torch.tensor([0, 3, 5, 9]))

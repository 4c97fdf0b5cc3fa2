"""A CNN written for grayscale images, fed RGB ones."""
import torch
import torch.nn as nn


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, kernel_size=3, padding=1)  # <- shape-mismatch
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 5)

    def forward(self, images):
        h = self.pool(torch.relu(self.stem(images)))
        return self.head(h.flatten(1))


def build_model():
    return TinyCNN()


def example_inputs():
    return torch.randn(2, 3, 16, 16)

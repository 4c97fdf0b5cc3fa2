"""Conv features flattened by hand into a Linear whose in_features was guessed wrong."""
import torch
import torch.nn as nn


class Digits(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(6 * 5 * 5, 10)  # <- shape-mismatch

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        x = x.view(x.size(0), -1)
        return self.fc(x)


def build_model():
    return Digits()


def example_inputs():
    return torch.randn(4, 1, 28, 28)

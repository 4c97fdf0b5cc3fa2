"""A LeNet-style CNN whose flatten hard-codes the feature size: a batch of 16 images becomes
25 rows of the wrong features and the loss fails against 16 labels."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 16 * 4 * 4)  # <- loss-shape-mismatch
        return self.fc(x)


def build_model():
    torch.manual_seed(0)
    return LeNet()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(16, 1, 32, 32)


def loss(output):
    labels = torch.arange(16) % 10
    return F.cross_entropy(output, labels)

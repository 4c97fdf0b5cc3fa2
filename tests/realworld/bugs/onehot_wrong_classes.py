"""One-hot targets built for 5 classes while the classifier has 4 outputs."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(8, 12)


def loss(output):
    labels = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    targets = F.one_hot(labels, num_classes=5).float()  # <- loss-shape-mismatch
    return nn.CrossEntropyLoss()(output, targets)

"""A frozen feature extractor run under torch.no_grad, a trained head on top."""
import torch
import torch.nn as nn


class Probe(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32))
        self.features.requires_grad_(False)
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        with torch.no_grad():
            f = self.features(x)
        return self.head(f)


def build_model():
    torch.manual_seed(0)
    return Probe()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(5, 10)


def loss(output):
    return nn.functional.cross_entropy(output, torch.tensor([0, 1, 2, 0, 1]))

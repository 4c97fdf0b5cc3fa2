"""A score turned into a Python float with .item() and back into a tensor: the layers before
it get no gradient."""
import torch
import torch.nn as nn


class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(6, 8)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.encoder(x))
        scale = torch.tensor(h.mean().item())  # <- no-gradient
        return self.head(h.detach()) * scale


def build_model():
    torch.manual_seed(0)
    return Scorer()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(4, 6)


def loss(output):
    return output.pow(2).mean()

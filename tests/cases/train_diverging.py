"""A model file whose training diverges: un-normalised inputs and a learning rate far too high."""
import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.Linear(8, 1))


def optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=3e-4)


def batches():
    g = torch.Generator().manual_seed(0)
    for _ in range(4):
        x = 50 + 30 * torch.randn(16, 2, generator=g)
        yield x, x.sum(dim=1, keepdim=True) / 10


def loss(output, target):
    return nn.functional.mse_loss(output, target)

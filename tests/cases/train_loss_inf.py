"""A model file whose loss overflows to inf at a later step, from finite outputs (a learning rate
far too high): the loss rule names the op; the step tracker must not fail on it."""
import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))


def optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=3.0)


def batches():
    g = torch.Generator().manual_seed(1)
    for _ in range(4):
        x = torch.randn(8, 4, generator=g) * 20
        yield x, x.sum(1, keepdim=True)


def loss(output, target):
    mse = (output - target).pow(2).mean()  # <- overflow
    return mse + output.abs().mean() * 0.1

"""A finite forward whose loss is not finite: log of a probability that is exactly zero."""

import torch
import torch.nn as nn


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU())


def example_inputs():
    return -torch.ones(2, 4) * 100  # ReLU outputs zeros


def loss(output):
    return -torch.log(output).mean()

"""Backward without an optimizer: each backward ends a step."""
import torch
import torch.nn as nn

model = nn.Linear(3, 1)
loss_fn = nn.MSELoss()
for _ in range(4):
    loss_fn(model(torch.randn(2, 3)), torch.zeros(2, 1)).backward()

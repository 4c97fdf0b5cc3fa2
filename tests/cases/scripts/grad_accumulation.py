"""Gradient accumulation: 12 micro-batches, the optimizer steps after every 4 (3 steps)."""

import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
optimizer.zero_grad()
for micro in range(12):
    x, y = torch.randn(4, 5), torch.randn(4, 1)
    ((model(x) - y) ** 2).mean().div(4).backward()
    if micro % 4 == 3:
        optimizer.step()
        optimizer.zero_grad()

"""NaN born inside the model at step 4 only: the batches are finite, but the fourth one has
values below the Root module's shift, and the square root of a negative number is NaN."""

import torch
import torch.nn as nn


class Root(nn.Module):
    def __init__(self, shift: float) -> None:
        super().__init__()
        self.shift = shift

    def forward(self, x):
        return torch.sqrt(x - self.shift)


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), Root(0.0), nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(1, 7):
    x = torch.randn(8, 4)
    if step == 4:
        model[2].shift = 2.0  # a sigmoid's output is below 1: every root is of a negative
    optimizer.zero_grad()
    model(x).pow(2).mean().backward()
    optimizer.step()
    model[2].shift = 0.0

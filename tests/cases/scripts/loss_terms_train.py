"""A loss of two terms: a fit term and a penalty whose weight grows each step until the
penalty explodes (--nan: its log turns -inf at a zero instead)."""

import sys

import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(16, 4), torch.randn(16, 1)
nan = "--nan" in sys.argv
for step in range(8):
    optimizer.zero_grad()
    out = model(x)
    fit = ((out - y) ** 2).mean()
    if nan:
        penalty = torch.log(out.abs().mean() * (step < 3))  # log(0) at step 4
    else:
        penalty = (10.0 ** (step * 2)) * model.weight.abs().sum()
    loss = fit + penalty
    loss.backward()
    optimizer.step()

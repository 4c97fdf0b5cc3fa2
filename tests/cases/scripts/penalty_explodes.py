"""A loss of two terms: the data term and a weight penalty whose coefficient is meant to decay
but is multiplied by 10 at every step, so the penalty soon dwarfs the data term and the total
explodes: the penalty's line is the one to blame, not the total's."""

import torch
import torch.nn as nn

torch.manual_seed(1)
net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.SGD(net.parameters(), lr=1e-3)
inputs, targets = torch.randn(32, 3), torch.randn(32, 1)
coefficient = 1e-4
for _ in range(10):
    opt.zero_grad()
    data_term = nn.functional.mse_loss(net(inputs), targets)
    penalty = coefficient * sum(p.pow(2).sum() for p in net.parameters())  # line 16
    total = data_term + penalty
    total.backward()
    opt.step()
    coefficient *= 10.0  # the bug: meant 0.1

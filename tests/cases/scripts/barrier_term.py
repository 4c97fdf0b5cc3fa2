"""A loss with a log-barrier term that keeps the mean |prediction| under a budget; the budget
shrinks by one each step and reaches 0 at step 5, where relu gives 0 and the log turns -inf."""

import torch
import torch.nn as nn

torch.manual_seed(2)
net = nn.Linear(4, 1)
opt = torch.optim.SGD(net.parameters(), lr=1e-2)
inputs, targets = torch.randn(16, 4), torch.randn(16, 1)
for step in range(8):
    opt.zero_grad()
    prediction = net(inputs)
    fit = ((prediction - targets) ** 2).mean()
    budget = 4.0 - step
    barrier = -torch.log(torch.relu(budget - prediction.abs().mean()))  # line 16
    loss = fit + 0.1 * barrier
    loss.backward()
    opt.step()

"""A loss summed from 300 scalar terms per step, under the script's own torch function mode
(torch.device) around the forward: the debugger's loss watch keeps a bounded number of them and
never disturbs the script's mode."""

import torch
import torch.nn as nn

torch.manual_seed(3)
net = nn.Linear(6, 6)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
inputs = torch.randn(10, 6)
for step in range(4):
    opt.zero_grad()
    with torch.device("meta"):
        out = net(inputs)
        inside = torch.zeros(1).device.type  # the script's mode still applies: meta
    outside = torch.zeros(1).device.type  # its mode left with its block: cpu
    assert (inside, outside) == ("meta", "cpu"), (inside, outside)
    loss = sum(out[i % 10, i % 6] ** 2 for i in range(300))
    loss.backward()
    opt.step()

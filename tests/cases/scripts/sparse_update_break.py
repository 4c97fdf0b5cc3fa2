"""A single weight overflows in one optimizer step: the gradient is finite everywhere, but at
the step given by --break-at a gradient entry of 3e38 (finite) times a learning rate raised
to 100 for that step is -inf in one weight of a 100 x 100 Linear, at a position the update
ratios' sample does not read."""

import argparse

import torch
import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--break-at", type=int, default=3)
parser.add_argument("--steps", type=int, default=6)
args = parser.parse_args()

torch.manual_seed(0)
layer = nn.Linear(100, 100)
optimizer = torch.optim.SGD(layer.parameters(), lr=0.05)
x = torch.randn(8, 100)
for step in range(1, args.steps + 1):
    optimizer.zero_grad()
    loss = layer(x).pow(2).mean()
    loss.backward()
    if step == args.break_at:
        with torch.no_grad():
            layer.weight.grad[30, 0] = 3e38  # finite; 100 x 3e38 overflows
        optimizer.param_groups[0]["lr"] = 100.0
    optimizer.step()
    optimizer.param_groups[0]["lr"] = 0.05

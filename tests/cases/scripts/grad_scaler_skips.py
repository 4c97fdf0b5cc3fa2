"""Mixed-precision style training with a GradScaler whose first scale is far too large: the
scaled gradients overflow, so the scaler skips the first updates and halves its scale until
they fit (normal at the start of an AMP run, no problem to report). 8 iterations."""

import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 127)
x, y = 10 * torch.randn(32, 8), torch.randn(32, 1)
for step in range(8):
    optimizer.zero_grad()
    loss = (model(x) - y).pow(2).mean()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    print(f"step {step} loss {loss.item():.4f} scale {scaler.get_scale():.3g}")

"""The fourth batch holds a NaN: it comes from the data, not the model."""
import torch
import torch.nn as nn

torch.manual_seed(0)
batches = [torch.randn(8, 4) for _ in range(6)]
batches[3][2, 1] = float("nan")
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for x in batches:
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()

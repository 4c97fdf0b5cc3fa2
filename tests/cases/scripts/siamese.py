"""One encoder called twice in every iteration (a siamese / contrastive loss): 4 iterations."""
import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
opt = torch.optim.SGD(encoder.parameters(), lr=0.05)
for iteration in range(4):
    a, b = torch.randn(10, 6), torch.randn(10, 6)
    opt.zero_grad()
    loss = (encoder(a) - encoder(b)).pow(2).mean()
    loss.backward()
    opt.step()

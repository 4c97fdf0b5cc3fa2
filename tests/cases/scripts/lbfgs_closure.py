"""LBFGS steps with a closure: forward and backward run inside optimizer.step(closure)."""
import torch, torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.LBFGS(net.parameters(), lr=0.5, max_iter=5)
x, y = torch.randn(32, 3), torch.randn(32, 1)
for i in range(4):
    def closure():
        opt.zero_grad()
        loss = (net(x) - y).pow(2).mean()
        loss.backward()
        return loss
    print("loss", float(opt.step(closure)))

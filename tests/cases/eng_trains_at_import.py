import torch, torch.nn as nn
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(20):
    print("epoch", epoch)
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    opt.step()

"""A DataLoader loop whose labels hold a class that does not exist only in batch 4 (step 5 of 8):
the model has 3 outputs and the criterion is called as a module."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x = torch.randn(64, 5)
y = torch.randint(0, 3, (64,))
y[37] = 3  # a fourth class, in rows 32-39
model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
criterion = nn.CrossEntropyLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for xb, yb in DataLoader(TensorDataset(x, y), batch_size=8):
    opt.zero_grad()
    loss = criterion(model(xb), yb)  # <- loss
    loss.backward()
    opt.step()

"""The third batch cannot be read: its __getitem__ raises between steps 2 and 3."""
import torch, torch.nn as nn
from torch.utils.data import DataLoader, Dataset
class Data(Dataset):
    def __len__(self): return 16
    def __getitem__(self, i):
        if i >= 8:
            raise ValueError(f"row {i} is unreadable")
        return torch.randn(3), torch.randn(1)
net = nn.Linear(3, 1)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for x, y in DataLoader(Data(), batch_size=4):
    opt.zero_grad(); (net(x) - y).pow(2).mean().backward(); opt.step()

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


class Crops(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.randn(3, 32 - (i % 2) * 2)  # odd items are 30 wide


model = nn.Conv1d(3, 4, 3)
for batch in DataLoader(Crops(), batch_size=4):
    model(batch).sum().backward()

"""Items of two sizes: the default collate cannot stack them (num_workers from argv[1])."""
import sys

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


class Crops(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):  # <- getitem
        return torch.randn(3, 32 - (i % 2) * 2)  # odd items are 30 wide


model = nn.Conv1d(3, 4, 3)
workers = int(sys.argv[1]) if len(sys.argv) > 1 else 0
for batch in DataLoader(Crops(), batch_size=4, num_workers=workers):
    model(batch).sum().backward()

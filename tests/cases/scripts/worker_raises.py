"""A dataset whose item 9 cannot be read, fetched by two DataLoader worker processes."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


class Samples(Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, i):
        if i == 9:
            raise FileNotFoundError(f"sample_{i}.npy")  # <- raise
        return torch.randn(4)


model = nn.Linear(4, 2)
for batch in DataLoader(Samples(), batch_size=4, num_workers=2):
    model(batch).sum().backward()

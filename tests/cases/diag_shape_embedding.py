"""Token ids from a bigger vocabulary than the embedding table."""
import torch
import torch.nn as nn


class Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens = nn.Embedding(50, 8)  # <- shape-mismatch
        self.out = nn.Linear(8, 2)

    def forward(self, ids):
        return self.out(self.tokens(ids).mean(dim=1))


def build_model():
    return Bag()


def example_inputs():
    ids = torch.randint(0, 50, (3, 7))
    ids[1, 4] = 64
    return ids

"""A GRU and an LSTM stacked, batch-first, on sequences of features."""
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(6, 16, batch_first=True)
        self.lstm = nn.LSTM(16, 16, num_layers=2, batch_first=True, dropout=0.1)
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        h, _ = self.gru(x)
        h, (last, _) = self.lstm(h)
        return self.out(last[-1])


def build_model():
    torch.manual_seed(0)
    return Tagger()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(5, 7, 6)


def loss(output):
    return nn.functional.cross_entropy(output, torch.tensor([0, 1, 2, 3, 0]))

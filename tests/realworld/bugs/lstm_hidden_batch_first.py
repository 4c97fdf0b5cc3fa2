"""An initial hidden state sized for the batch, given to an LSTM without batch_first=True that
reads [batch, seq, features] as [seq, batch, features]."""
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(10, 24)  # <- shape-mismatch
        self.head = nn.Linear(24, 3)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), 24)
        c0 = torch.zeros(1, x.size(0), 24)
        out, _ = self.lstm(x, (h0, c0))
        return self.head(out)


def build_model():
    torch.manual_seed(0)
    return Tagger()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(4, 15, 10)

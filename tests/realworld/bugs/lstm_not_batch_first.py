"""An LSTM built without batch_first=True, fed [batch, seq, features]: it silently treats the
8 sequences as 8 time steps and the 20 time steps as the batch."""
import torch
import torch.nn as nn


class Sentiment(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 32)  # <- rnn-batch-first
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def build_model():
    torch.manual_seed(0)
    return Sentiment()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(8, 20, 16)


def loss(output):
    return nn.functional.cross_entropy(output, torch.arange(8) % 2)

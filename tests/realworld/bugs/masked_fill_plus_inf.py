"""Attention masking written with a sign slip: -float('-inf') is +inf, so masked positions win
the softmax instead of losing it and the row turns NaN."""
import torch
import torch.nn as nn


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qk = nn.Linear(8, 16)

    def forward(self, x, pad):
        q, k = self.qk(x).chunk(2, dim=-1)
        scores = q @ k.transpose(1, 2)
        scores = scores.masked_fill(pad[:, None, :], -float('-inf'))  # <- non-finite
        return torch.softmax(scores, dim=-1) @ x


def build_model():
    torch.manual_seed(0)
    return Attention()


def example_inputs():
    torch.manual_seed(1)
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[1, 3:] = True
    return torch.randn(2, 5, 8), pad

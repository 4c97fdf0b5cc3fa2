"""Self-attention with a padding mask. The -inf fill is how masking is meant to be done; the
sequence that is all padding leaves a row with nothing to attend to, and its softmax is NaN."""
import torch
import torch.nn as nn


class MaskedAttention(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.qk = nn.Linear(dim, 2 * dim)

    def forward(self, x, pad):
        q, k = self.qk(x).chunk(2, dim=-1)
        scores = q @ k.transpose(-2, -1) / 8 ** 0.5
        scores = scores.masked_fill(pad[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # <- non-finite
        return weights @ x


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = MaskedAttention()
        self.out = nn.Linear(8, 3)

    def forward(self, x, pad):
        return self.out(self.attn(x, pad))


def build_model():
    return Encoder()


def example_inputs():
    pad = torch.zeros(2, 4, dtype=torch.bool)
    pad[1] = True  # the second sequence is all padding
    return torch.randn(2, 4, 8), pad

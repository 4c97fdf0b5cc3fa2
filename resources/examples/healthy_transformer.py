"""Example (healthy): a transformer encoder that classifies token sequences (tiny transformer).

Multi-head attention, layer norms and a residual stream, all with nothing wrong. Step into
`encoder.layers.0` to see attention's inputs and outputs, or press F5 and compare gradient
norms across the layers. The run ends with "no problems found".
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 100, width: int = 32, classes: int = 3):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        layer = nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=64,
                                           batch_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(width, classes)

    def forward(self, tokens):
        h = self.encoder(self.embed(tokens))
        return self.head(h.mean(dim=1))  # average over the sequence


def build_model():
    torch.manual_seed(0)
    return TinyTransformer()


def example_inputs():
    torch.manual_seed(1)
    return torch.randint(0, 100, (2, 12))  # 2 sequences of 12 tokens


def loss(output):
    return F.cross_entropy(output, torch.tensor([0, 2]))

"""A forward under autocast to bfloat16 (float32 weights, bfloat16 matmuls)."""
import torch
import torch.nn as nn


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU())
        self.norm = nn.LayerNorm(64)
        self.head = nn.Linear(64, 5)

    def forward(self, x):
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            h = self.norm(self.body(x))
            return self.head(h).float()


def build_model():
    torch.manual_seed(0)
    return Mixed()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(8, 16)


def loss(output):
    return nn.functional.cross_entropy(output, torch.arange(8) % 5)

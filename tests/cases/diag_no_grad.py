"""An auxiliary head that forward never calls, and a branch detached before the loss."""
import torch
import torch.nn as nn


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.context = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
        self.aux_head = nn.Linear(8, 5)  # <- no-gradient:aux

    def forward(self, x):
        h = torch.relu(self.body(x))
        c = self.context(x).detach()  # <- no-gradient:context
        return self.head(h + c)


def build_model():
    return TwoHeads()


def example_inputs():
    return torch.randn(3, 4)


def loss(output):
    return output.pow(2).mean()

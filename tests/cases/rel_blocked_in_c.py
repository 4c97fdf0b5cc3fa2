"""forward blocks in one C call (time.sleep) that no Python-level interrupt can end early."""
import os
import sys
import time

import torch
import torch.nn as nn

BLOCK_S = float(os.environ.get("TORCHLENS_BLOCK_S", "2"))


class Blocked(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        print("forward started", file=sys.stderr, flush=True)
        time.sleep(BLOCK_S)  # <- blocked
        return self.fc(x)


def build_model():
    return Blocked()


def example_inputs():
    return torch.randn(2, 4)

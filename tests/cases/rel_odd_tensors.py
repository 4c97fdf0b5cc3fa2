"""Outputs the JSON writer must survive: a jagged nested tensor (symbolic sizes), complex,
quantized, sparse COO and CSR tensors."""
import warnings

import torch
import torch.nn as nn


class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {
                "y": y,
                "jagged": torch.nested.nested_tensor([y[:1].detach(), y[:2].detach()],
                                                     layout=torch.jagged),
                "complex": torch.complex(y, y),
                "quantized": torch.quantize_per_tensor(y.detach(), 0.1, 0, torch.qint8),
                "sparse": y.detach().to_sparse(),
                "csr": y.detach().to_sparse_csr(),
            }


def build_model():
    return Odd()


def example_inputs():
    return torch.randn(3, 4)

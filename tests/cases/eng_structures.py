"""Dict inputs (kwargs), dataclass and dict outputs, a namedtuple inside."""

from collections import namedtuple
from dataclasses import dataclass

import torch
import torch.nn as nn

Pair = namedtuple("Pair", ["left", "right"])


@dataclass
class Output:
    logits: torch.Tensor
    extras: dict


class TwoTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Linear(5, 3)
        self.doc = nn.Linear(7, 3)

    def forward(self, query, doc, temperature=1.0):
        q, d = self.query(query), self.doc(doc)
        score = (q * d).sum(-1) / temperature
        return Output(logits=score, extras={"pair": Pair(q, d), "note": "scores"})


def build_model():
    return TwoTower()


def example_inputs():
    return {"query": torch.randn(4, 5), "doc": torch.randn(4, 7), "temperature": 2.0}


def loss(output):
    return output.logits.pow(2).mean()

"""A two-input model taking and returning dicts: no alarms."""
import torch
import torch.nn as nn


class Matcher(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Sequential(nn.Linear(6, 8), nn.GELU())
        self.doc = nn.Sequential(nn.Linear(10, 8), nn.GELU())
        self.score = nn.Bilinear(8, 8, 1)

    def forward(self, query, doc, temperature=1.0):
        q, d = self.query(query), self.doc(doc)
        return {"score": self.score(q, d).squeeze(-1) / temperature,
                "embeddings": {"query": q, "doc": d}}


def build_model():
    return Matcher()


def example_inputs():
    return {"query": torch.randn(5, 6), "doc": torch.randn(5, 10), "temperature": 0.5}


def loss(output):
    target = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    return nn.functional.binary_cross_entropy_with_logits(output["score"], target)

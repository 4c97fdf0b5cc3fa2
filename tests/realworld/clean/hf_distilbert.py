"""DistilBERT classifier with labels."""
import torch
from transformers import DistilBertConfig, DistilBertForSequenceClassification


def build_model():
    torch.manual_seed(0)
    return DistilBertForSequenceClassification(DistilBertConfig(
        vocab_size=60, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=16,
        num_labels=2))


def example_inputs():
    torch.manual_seed(1)
    return {"input_ids": torch.randint(1, 60, (4, 10)), "labels": torch.tensor([0, 1, 1, 0])}


def loss(output):
    return output.loss

"""BERT for sequence classification (2 layers) with labels and a padding mask."""
import torch
from transformers import BertConfig, BertForSequenceClassification


def build_model():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=16, num_labels=3)
    return BertForSequenceClassification(config)


def example_inputs():
    torch.manual_seed(1)
    mask = torch.ones(4, 10, dtype=torch.long)
    mask[3, 6:] = 0
    return {"input_ids": torch.randint(1, 60, (4, 10)), "attention_mask": mask,
            "labels": torch.tensor([0, 2, 1, 2])}


def loss(output):
    return output.loss

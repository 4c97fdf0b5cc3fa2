"""BERT masked LM with the library's gradient checkpointing switched on."""
import torch
from transformers import BertConfig, BertForMaskedLM


def build_model():
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, intermediate_size=64,
                                       max_position_embeddings=16))
    model.gradient_checkpointing_enable()
    model.train()
    return model


def example_inputs():
    torch.manual_seed(1)
    ids = torch.randint(1, 60, (2, 8))
    labels = torch.full_like(ids, -100)
    labels[:, 2] = ids[:, 2]
    return {"input_ids": ids, "labels": labels}


def loss(output):
    return output.loss

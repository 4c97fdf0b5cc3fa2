"""Mistral base model without labels (backward from the surrogate loss)."""
import torch
from transformers import MistralConfig, MistralModel


def build_model():
    torch.manual_seed(0)
    return MistralModel(MistralConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, sliding_window=8,
                                      max_position_embeddings=32))


def example_inputs():
    torch.manual_seed(1)
    return {"input_ids": torch.randint(0, 64, (2, 12))}

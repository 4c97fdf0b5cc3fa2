"""Llama causal LM (grouped-query attention, rotary embeddings) with labels."""
import torch
from transformers import LlamaConfig, LlamaForCausalLM


def build_model():
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, max_position_embeddings=32))


def example_inputs():
    torch.manual_seed(1)
    ids = torch.randint(0, 64, (2, 12))
    return {"input_ids": ids, "labels": ids}


def loss(output):
    return output.loss

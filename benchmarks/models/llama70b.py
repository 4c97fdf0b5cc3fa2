"""Llama at the 70B configuration (hidden 8192, 80 layers, 64 heads, 8 key/value heads,
intermediate 28672, vocabulary 128256): ~70 billion parameters, far beyond this machine's
memory; `torchlens-gui check benchmarks/models/llama70b.py --dry-run` checks it on meta."""
import torch
from transformers import LlamaConfig, LlamaForCausalLM

CONFIG = dict(hidden_size=8192, num_hidden_layers=80, num_attention_heads=64,
              num_key_value_heads=8, intermediate_size=28672, vocab_size=128256,
              max_position_embeddings=4096)


def build_model():
    return LlamaForCausalLM(LlamaConfig(**CONFIG))


def example_inputs():
    ids = torch.randint(0, CONFIG["vocab_size"], (1, 32))
    return {"input_ids": ids, "labels": ids}


def loss(output):
    return output.loss

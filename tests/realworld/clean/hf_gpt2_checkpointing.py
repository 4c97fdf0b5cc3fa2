"""GPT-2 language model with the library's gradient checkpointing, in training mode."""
import torch
from transformers import GPT2Config, GPT2LMHeadModel


def build_model():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2,
                                       n_head=2, use_cache=False))
    model.gradient_checkpointing_enable()
    return model.train()


def example_inputs():
    torch.manual_seed(1)
    ids = torch.randint(0, 64, (2, 10))
    return {"input_ids": ids, "labels": ids}


def loss(output):
    return output.loss

"""GPT-2 language model from a small config; the library computes the loss from labels."""
import torch
from transformers import GPT2Config, GPT2LMHeadModel


def build_model():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2,
                                      n_head=2))


def example_inputs():
    torch.manual_seed(1)
    ids = torch.randint(0, 64, (2, 10))
    return {"input_ids": ids, "labels": ids}


def loss(output):
    return output.loss

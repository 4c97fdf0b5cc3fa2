"""A GPT-2 style model of about 1.1 billion parameters, built from a config: far too big to run
casually on a laptop CPU, but `check --dry-run` builds and runs it on the meta device in seconds."""
import torch
from transformers import GPT2Config, GPT2LMHeadModel


def build_model():
    config = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=2048, n_layer=20, n_head=16)
    return GPT2LMHeadModel(config)


def example_inputs():
    ids = torch.randint(0, 50257, (2, 128))
    return {"input_ids": ids, "labels": ids}


def loss(output):
    return output.loss

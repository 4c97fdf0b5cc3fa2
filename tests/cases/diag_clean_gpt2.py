"""A tiny GPT-2 built from a config (no download) with its language-model loss: no alarms."""
import torch
from transformers import GPT2Config, GPT2LMHeadModel


def build_model():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2)
    return GPT2LMHeadModel(config)


def example_inputs():
    torch.manual_seed(0)
    ids = torch.randint(0, 64, (2, 10))
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, 7:] = 0  # padding at the end of the second sequence
    return {"input_ids": ids, "attention_mask": mask, "labels": ids}


def loss(output):
    return output.loss

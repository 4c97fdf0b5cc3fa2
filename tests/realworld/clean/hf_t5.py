"""T5 encoder-decoder with labels (the library shifts them into decoder inputs)."""
import torch
from transformers import T5Config, T5ForConditionalGeneration


def build_model():
    torch.manual_seed(0)
    return T5ForConditionalGeneration(T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=64,
                                               num_layers=2, num_heads=4,
                                               decoder_start_token_id=0))


def example_inputs():
    torch.manual_seed(1)
    return {"input_ids": torch.randint(1, 64, (2, 9)), "labels": torch.randint(1, 64, (2, 5))}


def loss(output):
    return output.loss

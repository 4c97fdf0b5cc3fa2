"""A tiny BERT encoder built from a config with padding in the batch: no alarms."""
import torch
from transformers import BertConfig, BertModel


def build_model():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=16)
    return BertModel(config)


def example_inputs():
    torch.manual_seed(0)
    ids = torch.randint(1, 50, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[2, 5:] = 0
    return {"input_ids": ids, "attention_mask": mask}

"""DistilBERT encoder without labels (surrogate loss) and with a padding mask."""
import torch
from transformers import DistilBertConfig, DistilBertModel


def build_model():
    torch.manual_seed(0)
    return DistilBertModel(DistilBertConfig(vocab_size=60, dim=32, n_layers=2, n_heads=2,
                                            hidden_dim=64, max_position_embeddings=16))


def example_inputs():
    torch.manual_seed(1)
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[0, 7:] = 0
    return {"input_ids": torch.randint(1, 60, (2, 10)), "attention_mask": mask}

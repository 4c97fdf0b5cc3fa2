"""CLIP text and vision towers with the contrastive loss (return_loss=True)."""
import torch
from transformers import CLIPConfig, CLIPModel


def build_model():
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16),
        vision_config=dict(image_size=16, patch_size=8, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=1, num_attention_heads=2),
        projection_dim=16)
    return CLIPModel(config)


def example_inputs():
    torch.manual_seed(1)
    return {"input_ids": torch.randint(0, 64, (3, 7)), "pixel_values": torch.randn(3, 3, 16, 16),
            "return_loss": True}


def loss(output):
    return output.loss

"""ViT image classifier from a small config, with labels."""
import torch
from transformers import ViTConfig, ViTForImageClassification


def build_model():
    torch.manual_seed(0)
    return ViTForImageClassification(ViTConfig(image_size=16, patch_size=4, num_channels=3,
                                               hidden_size=32, num_hidden_layers=2,
                                               num_attention_heads=2, intermediate_size=64,
                                               num_labels=5))


def example_inputs():
    torch.manual_seed(1)
    return {"pixel_values": torch.randn(3, 3, 16, 16), "labels": torch.tensor([0, 4, 2])}


def loss(output):
    return output.loss

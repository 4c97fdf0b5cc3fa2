"""Whisper speech-to-text from a small config, with labels."""
import torch
from transformers import WhisperConfig, WhisperForConditionalGeneration


def build_model():
    torch.manual_seed(0)
    return WhisperForConditionalGeneration(WhisperConfig(
        vocab_size=64, num_mel_bins=8, d_model=32, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_ffn_dim=64, max_source_positions=10, max_target_positions=16,
        decoder_start_token_id=1, pad_token_id=0, bos_token_id=1, eos_token_id=2))


def example_inputs():
    torch.manual_seed(1)
    return {"input_features": torch.randn(2, 8, 20), "labels": torch.randint(3, 64, (2, 6))}


def loss(output):
    return output.loss

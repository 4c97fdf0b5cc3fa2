import torch


def build_model():
    return {"weights": torch.zeros(3)}


def example_inputs():
    return torch.zeros(3)

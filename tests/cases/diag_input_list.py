"""Two feature blocks returned as a list: the model is called with one argument, the list."""
import torch
import torch.nn as nn


class Fusion(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = nn.Linear(6, 4)
        self.text = nn.Linear(5, 4)

    def forward(self, image, text=None):
        return self.image(image) + self.text(text)  # <- runtime-error


def build_model():
    return Fusion()


def example_inputs():
    return [torch.randn(3, 6), torch.randn(3, 5)]

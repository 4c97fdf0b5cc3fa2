"""A small CNN whose 'contrast' layer divides each feature map by its own sum: a map that ReLU
zeroed entirely becomes 0/0 = NaN. Used for snapshots and the tensor viewer (4-D activations)."""
import torch
import torch.nn as nn


class Contrast(nn.Module):
    def forward(self, x):
        return x / x.sum(dim=(2, 3), keepdim=True)  # <- non-finite


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1),  # <- conv
            nn.ReLU(),
            Contrast(),
        )
        self.head = nn.Linear(6 * 12 * 12, 3)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def build_model():
    torch.manual_seed(0)
    model = SmallCNN()
    with torch.no_grad():
        model.features[0].bias[2] = -100.0  # channel 2 is negative everywhere: ReLU zeroes it
    return model


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(2, 1, 12, 12)


def loss(output):
    return output.pow(2).mean()

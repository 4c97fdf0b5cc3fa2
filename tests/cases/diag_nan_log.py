"""A log-scaling of ReLU features: log(0) for every feature ReLU zeroed."""
import torch
import torch.nn as nn


class LogFeatures(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 5)
        self.out = nn.Linear(5, 1)

    def forward(self, x):
        h = torch.relu(self.fc(x))
        h = torch.log(h)  # <- non-finite
        return self.out(h)


def build_model():
    torch.manual_seed(0)
    return LogFeatures()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(4, 5)

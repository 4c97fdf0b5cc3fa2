"""A rater whose per-sample importance weights scale each sample's gradient through a tensor
hook. The head squeezes its [batch, 1] scores with .squeeze(), which also drops the batch
dimension for a last batch of one sample: the hook then turns the [] gradient into [1], and
torch's own SqueezeBackward node fails in backward with no line of the user's named."""
import torch
import torch.nn as nn


class Rater(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.1),
                                  nn.Linear(16, 1))

    def forward(self, x, weights):
        scores = self.body(x).squeeze()  # <- runtime-error
        if scores.requires_grad:
            scores.register_hook(lambda grad: grad * weights)  # per-sample importance
        return scores


def build_model():
    torch.manual_seed(0)
    return Rater()


def example_inputs():
    torch.manual_seed(1)
    return torch.randn(1, 5), torch.ones(1)  # the dataset's last batch: one sample


def loss(output):
    return (output - torch.ones(1)).pow(2).mean()

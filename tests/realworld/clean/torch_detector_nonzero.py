"""A toy detector: a conv head scores anchors, and the loss is taken over the anchors that
match an object (boolean-mask indexing and nonzero: data-dependent shapes)."""
import torch
import torch.nn as nn


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.score = nn.Conv2d(8, 1, 1)
        self.box = nn.Conv2d(8, 4, 1)

    def forward(self, images, objects):
        features = self.backbone(images)
        scores = self.score(features).flatten(1)
        boxes = self.box(features).flatten(2).transpose(1, 2)
        matched = objects.flatten(1) > 0
        keep = matched.nonzero()
        return scores[matched], boxes[keep[:, 0], keep[:, 1]]


def build_model():
    torch.manual_seed(0)
    return Detector()


def example_inputs():
    torch.manual_seed(1)
    objects = torch.zeros(2, 1, 8, 8)
    objects[0, 0, 2, 3] = objects[1, 0, 5, 5] = 1
    return torch.randn(2, 3, 8, 8), objects


def loss(output):
    scores, boxes = output
    return nn.functional.binary_cross_entropy_with_logits(scores, torch.ones_like(scores)) + \
        boxes.pow(2).mean()

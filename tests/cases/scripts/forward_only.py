"""No backward, no optimizer: every outermost module call is a step."""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
with torch.no_grad():
    for _ in range(5):
        model(torch.randn(2, 3))

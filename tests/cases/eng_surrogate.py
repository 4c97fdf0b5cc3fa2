"""No loss(): backward starts from the documented surrogate. The module is defined at module
level (`model` and `inputs`), the other half of the contract."""

import torch
import torch.nn as nn

print("hello from the model file")

model = nn.Sequential(nn.Linear(3, 5), nn.GELU(), nn.Linear(5, 2))
inputs = torch.randn(4, 3)

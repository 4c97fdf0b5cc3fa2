import sys

import torch
import torch.nn as nn

model = nn.Linear(3, 1)
model(torch.randn(2, 3)).sum().backward()
sys.exit(3)

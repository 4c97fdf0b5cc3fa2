"""A file that defines neither a model nor inputs."""

import torch

x = torch.zeros(3)

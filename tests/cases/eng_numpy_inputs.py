import numpy as np
import torch.nn as nn

def build_model():
    return nn.Sequential(nn.Linear(3, 2))

def example_inputs():
    return np.zeros((2, 3), dtype=np.float32)

"""A model file that changes process-wide torch state at import and in build_model()."""
import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)
torch.autograd.set_detect_anomaly(True)
BIG = torch.ones(16 * 1024 * 1024, dtype=torch.float32)  # 64 MB held by the file's globals


def _count_calls(module, args, output):
    return None


torch.nn.modules.module.register_module_forward_hook(_count_calls)


def build_model():
    torch.set_grad_enabled(False)  # the file leaves grad mode off for whoever runs next
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1))
    torch.set_grad_enabled(True)
    torch.set_default_device("cpu")
    return model


def example_inputs():
    return torch.randn(3, 4)

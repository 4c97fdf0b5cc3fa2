"""A gradient turns non-finite in backward at step 4 while the forward stays finite: a square
root taken at zero (its value 0, its derivative infinite). Step 4 is a light step."""
import torch
import torch.nn as nn


class SqrtGate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.base = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x - x.detach() + self.base)  # the value is sqrt(base)


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 4), SqrtGate(), nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(1, 7):
    if step == 4:
        model[1].base = 0.0
    opt.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    opt.step()

"""A NaN born inside a nested module at step 4: the floor of a log turns negative (a light step,
so the pause must still show the step's calls)."""
import torch
import torch.nn as nn


class LogAct(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.floor = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x.abs() + self.floor)


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = LogAct()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 4), Block(), nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(1, 7):
    if step == 4:
        model[1].act.floor = -1e9  # log of a negative number: NaN
    opt.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    opt.step()

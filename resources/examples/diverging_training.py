"""A training script whose loss diverges after a few steps (run: torchlens-gui run FILE).

House prices from floor area in square metres: the inputs are not normalised (values in the
hundreds) and the learning-rate warm-up never stops, so the rate soon gets far too high for
inputs of that scale. The first steps look fine (the loss falls from ~2800 to ~3.5); from about
step 8 each update overshoots more than the last, the loss grows by orders of magnitude and turns
into inf, then NaN, around step 20.
"""

import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(n: int = 512) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    area = 40 + 160 * torch.rand(n, 1, generator=g)          # square metres, 40-200
    rooms = torch.randint(1, 7, (n, 1), generator=g).float()
    x = torch.cat([area, rooms, area / rooms], dim=1)        # not normalised
    price = 3.0 * area + 10 * rooms + torch.randn(n, 1, generator=g)
    return TensorDataset(x, price / 100)


class PriceModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    loader = DataLoader(make_data(), batch_size=32, shuffle=True)
    model = PriceModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    # Warm-up: the rate grows by a third of its base every step (the bug: no cap).
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 + step / 3)
    loss_fn = nn.MSELoss()
    for epoch in range(args.epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch}: loss {loss.item():.4g}")


if __name__ == "__main__":
    main()

"""Training under `if __name__ == "__main__": main()`, with a GAN-like pair of models."""
import sys

import torch
import torch.nn as nn


def main() -> None:
    torch.manual_seed(0)
    gen = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 6))
    disc = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.Adam(list(gen.parameters()) + list(disc.parameters()), lr=1e-3)
    for step in range(int(sys.argv[1])):
        opt.zero_grad()
        fake = gen(torch.randn(16, 4))
        loss = disc(fake).mean() + disc(torch.randn(16, 6)).pow(2).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():  # an evaluation forward inside the step
            gen(torch.randn(2, 4))


if __name__ == "__main__":
    main()

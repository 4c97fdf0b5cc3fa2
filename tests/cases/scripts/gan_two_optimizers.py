"""A GAN loop: two models, two optimizers stepped one after the other in every iteration, the
generator's loss on a much larger scale than the discriminator's, and an evaluation sample
under no_grad after both updates. Iterations from argv[1]."""
import sys

import torch
import torch.nn as nn

torch.manual_seed(0)
gen = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
disc = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
opt_d = torch.optim.Adam(disc.parameters(), lr=1e-3)
opt_g = torch.optim.Adam(gen.parameters(), lr=2e-3)
bce = nn.BCEWithLogitsLoss()
ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)
for iteration in range(int(sys.argv[1])):
    real, z = torch.randn(16, 2) + 2.0, torch.randn(16, 4)
    opt_d.zero_grad()
    d_loss = bce(disc(real), ones) + bce(disc(gen(z).detach()), zeros)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = 500.0 * bce(disc(gen(z)), ones)  # a weighted term: ~340 against d_loss's ~2.3
    g_loss.backward()
    opt_g.step()
    with torch.no_grad():
        gen(torch.randn(4, 4))

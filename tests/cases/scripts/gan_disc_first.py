"""A GAN loop that calls the discriminator on real data before the generator runs (the other
order of gan_two_optimizers.py), with the discriminator called twice before its backward and a
third optimizer made but never stepped. 5 iterations."""

import torch
import torch.nn as nn

torch.manual_seed(1)
gen = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2))
disc = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 1))
opt_d = torch.optim.SGD(disc.parameters(), lr=0.05)
opt_g = torch.optim.SGD(gen.parameters(), lr=0.02)
unused = torch.optim.SGD(gen.parameters(), lr=1.0)  # made for an experiment, never stepped
bce = nn.BCEWithLogitsLoss()
for iteration in range(5):
    real = torch.randn(8, 2)
    score_real = disc(real)
    fake = gen(torch.randn(8, 3))
    d_loss = bce(score_real, torch.ones(8, 1)) + bce(disc(fake.detach()), torch.zeros(8, 1))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = bce(disc(fake), torch.ones(8, 1))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()

"""The screen behind configs/dcgan.yaml: a plain-PyTorch DCGAN whose G and D can each be the seed's or the FC ones.

Run from anywhere: ``python benchmarks/dcgan_screen.py --g fc --d fc --lr_g 1e-3 --steps 1200 --every 600``.
``--g seed``: the seed's all-convolutional G (z as a 1x1 map, 7x7 transposed-conv stem to 256 maps, then 128, then
the image); ``--g fc``: the DCGAN authors' MNIST G (``lit_gans.nets.InfoGANGenerator``, FC 1024 and FC 7x7x128
before two transposed convs). ``--d seed``: the seed's D (conv 64, conv 128, its 7x7 maps read out by one linear
conv); ``--d fc``: the same two convs, then FC 1024 (``lit_gans.nets.DCDiscriminator``). It prints losses,
D(x), D(G(z)) and FID / IS on 5,000 samples (FID from 5,000 reads above the 10,000 the CLI uses) for G and its EMA
copy, by the shipped evaluator.
"""

import argparse
import time

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from lit_gans import losses, nets
from lit_gans.data import default_data_dir, extract_shipped, load_split, to_unit_range
from lit_gans.metrics import GenerativeMetrics

p = argparse.ArgumentParser()
p.add_argument("--g", choices=["seed", "fc"], default="seed")
p.add_argument("--d", choices=["seed", "fc"], default="seed")
p.add_argument("--slope", type=float, default=0.2, help="D's LeakyReLU slope")
p.add_argument("--steps", type=int, default=1200)
p.add_argument("--every", type=int, default=600)
p.add_argument("--lr_g", type=float, default=2e-4)
p.add_argument("--lr_d", type=float, default=2e-4)
p.add_argument("--bs", type=int, default=128)
p.add_argument("--z", type=int, default=100)
p.add_argument("--ema", type=float, default=0.999)
p.add_argument("--samples", type=int, default=5000)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.manual_seed(a.seed)


def seed_generator(z: int, w: int = 64) -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (z, 1, 1)),
        nn.ConvTranspose2d(z, 4 * w, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(),  # (B, 256, 7, 7)
        nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),  # (B, 128, 14, 14)
        nn.ConvTranspose2d(2 * w, 1, 4, 2, 1), nn.Tanh(),
    )  # fmt: skip


def seed_discriminator(slope: float, w: int = 64) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(slope),  # (B, 64, 14, 14)
        nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(slope),  # (B, 128, 7, 7)
        nn.Conv2d(2 * w, 1, 7, 1, 0), nn.Flatten(0),  # the 7x7 maps read out linearly
    )  # fmt: skip


G = seed_generator(a.z) if a.g == "seed" else nets.InfoGANGenerator(a.z)
D = seed_discriminator(a.slope) if a.d == "seed" else nets.DCDiscriminator(slope=a.slope)
nets.init_weights(G)
nets.init_weights(D)
print(f"params G {sum(p.numel() for p in G.parameters())} D {sum(p.numel() for p in D.parameters())}", flush=True)
E = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(a.ema), use_buffers=True)
og = torch.optim.Adam(G.parameters(), a.lr_g, betas=(0.5, 0.999))
od = torch.optim.Adam(D.parameters(), a.lr_d, betas=(0.5, 0.999))
extract_shipped(default_data_dir())
X = to_unit_range(load_split(default_data_dir(), True)[0])
metrics = GenerativeMetrics()
metrics.update_real(to_unit_range(load_split(default_data_dir(), False)[0]))


def score(g: nn.Module) -> dict:
    g.eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        for n in range(0, a.samples, 1000):
            metrics.update_fake(g(torch.randn(min(1000, a.samples - n), a.z, generator=gen)))
    g.train()
    values = metrics.compute()
    metrics.reset_fake()
    return values


t0, step = time.time(), 0
while step < a.steps:
    perm = torch.randperm(len(X))
    for i in range(0, len(X) - a.bs + 1, a.bs):
        real = X[perm[i : i + a.bs]]
        fake = G(torch.randn(a.bs, a.z))
        dr, df = D(real), D(fake.detach())
        ld = losses.d_loss(dr, df)
        od.zero_grad()
        ld.backward()
        od.step()
        lg = losses.g_loss(D(fake))
        og.zero_grad()
        lg.backward()
        og.step()
        E.update_parameters(G)
        step += 1
        if step % a.every == 0 or step == a.steps:
            v, e = score(G), score(E.module)
            print(
                f"step {step} t={time.time() - t0:.0f}s ld={ld.item():.3f} lg={lg.item():.3f} "
                f"D(x)={dr.sigmoid().mean():.2f} D(G)={df.sigmoid().mean():.2f} FID={v['fid']:.2f} IS={v['is']:.2f}"
                f" | EMA FID={e['fid']:.2f} IS={e['is']:.2f}",
                flush=True,
            )
        if step >= a.steps:
            break

"""The screen behind configs/gan.yaml: a plain-PyTorch MLP GAN with switchable fixes, scored every N steps.

Run from anywhere: ``python benchmarks/mlp_screen.py --g_bn 1 --d_hidden 1024,512,256 --dropout 0 --lr_d 4e-4
--ema 0.999 --steps 10000 --every 2500``. It prints losses, D(x), D(G(z)), IS on 5,000 samples (one split, so a
little above torchmetrics' 10-split mean) and the smallest class fraction, by the shipped evaluator, for G and its
EMA copy. The defaults are the seed's vanilla GAN (no BN in G, a 512-256 D with dropout 0.3, lr 2e-4 for both).
"""

import argparse
import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from lit_gans import losses
from lit_gans.data import default_data_dir, extract_shipped, load_split, to_unit_range
from lit_gans.evaluator import load_evaluator

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=3000)
p.add_argument("--every", type=int, default=1000)
p.add_argument("--g_bn", type=int, default=0)
p.add_argument("--g_act", default="relu")
p.add_argument("--g_hidden", default="256,512,1024")
p.add_argument("--d_hidden", default="512,256")
p.add_argument("--dropout", type=float, default=0.3)
p.add_argument("--init", default="dcgan")
p.add_argument("--lr_g", type=float, default=2e-4)
p.add_argument("--lr_d", type=float, default=2e-4)
p.add_argument("--beta1", type=float, default=0.5)
p.add_argument("--bs", type=int, default=128)
p.add_argument("--smooth", type=float, default=1.0)
p.add_argument("--ema", type=float, default=0.0)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--z", type=int, default=100)
a = p.parse_args()
torch.manual_seed(a.seed)
act = {"relu": lambda: nn.ReLU(), "lrelu": lambda: nn.LeakyReLU(0.2)}[a.g_act]
layers, w = [], a.z
for h in map(int, a.g_hidden.split(",")):
    layers += [nn.Linear(w, h)] + ([nn.BatchNorm1d(h)] if a.g_bn else []) + [act()]
    w = h
G = nn.Sequential(*layers, nn.Linear(w, 784), nn.Tanh())
layers, w = [], 784
for h in map(int, a.d_hidden.split(",")):
    layers += [nn.Linear(w, h), nn.LeakyReLU(0.2)] + ([nn.Dropout(a.dropout)] if a.dropout else [])
    w = h
D = nn.Sequential(*layers, nn.Linear(w, 1))
if a.init == "dcgan":
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.02)
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1, 0.02)
            nn.init.zeros_(m.bias)
Ge = copy.deepcopy(G) if a.ema else None
og = torch.optim.Adam(G.parameters(), a.lr_g, betas=(a.beta1, 0.999))
od = torch.optim.Adam(D.parameters(), a.lr_d, betas=(a.beta1, 0.999))
extract_shipped(default_data_dir())
X = to_unit_range(load_split(default_data_dir(), True)[0]).view(-1, 784)
ev = load_evaluator()


def score(g):
    g.eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        x = g(torch.randn(5000, a.z, generator=gen)).view(-1, 1, 28, 28)
        pr = ev(x).softmax(1)
    g.train()
    py = pr.mean(0)
    is_ = math.exp((pr * (pr.clamp_min(1e-12).log() - py.log())).sum(1).mean().item())
    hist = torch.bincount(pr.argmax(1), minlength=10).float() / len(pr)
    return is_, hist


t0 = time.time()
step = 0
while step < a.steps:
    perm = torch.randperm(len(X))
    for i in range(0, len(X) - a.bs + 1, a.bs):
        real = X[perm[i : i + a.bs]]
        z = torch.randn(a.bs, a.z)
        fake = G(z)
        dr, df = D(real).squeeze(1), D(fake.detach()).squeeze(1)
        ld = F.binary_cross_entropy_with_logits(dr, torch.full_like(dr, a.smooth)) + F.binary_cross_entropy_with_logits(
            df, torch.zeros_like(df)
        )
        od.zero_grad()
        ld.backward()
        od.step()
        lg = losses.g_loss(D(fake).squeeze(1))
        og.zero_grad()
        lg.backward()
        og.step()
        if Ge is not None:
            with torch.no_grad():
                for pe, pg in zip(Ge.parameters(), G.parameters(), strict=True):
                    pe.lerp_(pg, 1 - a.ema)
                for be, bg in zip(Ge.buffers(), G.buffers(), strict=True):
                    be.copy_(bg)
        step += 1
        if step % a.every == 0 or step == a.steps:
            is_, hist = score(G)
            msg = (
                f"step {step} t={time.time() - t0:.0f}s ld={ld.item():.3f} lg={lg.item():.3f} "
                f"D(x)={dr.sigmoid().mean():.2f} D(G)={df.sigmoid().mean():.2f} IS={is_:.2f} minfrac={hist.min():.3f}"
            )
            if Ge is not None:
                ie, he = score(Ge)
                msg += f" | EMA IS={ie:.2f} minfrac={he.min():.3f}"
            print(msg, flush=True)
        if step >= a.steps:
            break

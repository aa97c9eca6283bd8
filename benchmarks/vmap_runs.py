"""Is one process training K InfoGAN runs at once, their weights stacked and the step vmapped (``torch.func``), faster
than the same K runs' steps one after another? (Choosing among K short runs trains K of them: see results.md.)

Run from the repo root: ``python -m benchmarks.vmap_runs [--k 3] [--batch-size 128] [--steps 10] [--warmup 2]
[--repeats 3] [--threads 1]``.

Both arms do the paper config's training step (``benchmarks.throughput.infogan_step``: G's fakes, D and Q's update on
real and detached fakes, G's update through the frozen D, the EMA of G) for K models built with seeds 0..K-1, each on
its own batch of real training digits drawn in memory:

- one after another: K modules, K pairs of Adam optimizers, ``infogan_step`` on each in turn;
- stacked: ``torch.func.stack_module_state`` of the K modules, one Adam per network over the stacked weights (Adam is
  elementwise, so it is K Adams), and each half of the step one ``vmap`` over ``functional_call`` of the module; the
  BatchNorm statistics are stacked buffers, updated per model.

The arms alternate ``--repeats`` times in one process; each prints its img/s (K x batch images per step, after
``--warmup`` steps), and the last line the median ratio. tests/test_benchmarks.py checks that both arms compute the
same losses and BatchNorm statistics from the same draws.
"""

import argparse
import statistics
import time

import torch
from lightning import seed_everything
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from benchmarks.throughput import frozen, infogan_d_loss, infogan_g_loss, infogan_step, machine, update
from lit_gans.data import SHIPPED, load_split, to_unit_range
from lit_gans.models import InfoGAN


class Step(nn.Module):
    """One InfoGAN's step as functions of its weights (``functional_call`` calls ``forward``): "fake" is G(z), "d" the
    D and Q loss on real and detached fakes, "g" G's loss through D: ``infogan_step``'s own loss functions."""

    def __init__(self, model: InfoGAN):
        super().__init__()
        self.model = model

    def forward(self, part: str, real, z, categories, codes, fake=None):
        if part == "fake":
            return self.model.generator(z)
        if part == "d":
            return infogan_d_loss(self.model, real, fake, categories, codes)
        return infogan_g_loss(self.model, fake, categories, codes)


def models(k: int) -> list[InfoGAN]:
    """K paper-config InfoGANs in training mode, built after ``seed_everything`` 0..K-1 as K runs build them."""
    built = []
    for seed in range(k):
        seed_everything(seed, verbose=False)
        built.append(InfoGAN().train())
    return built


class Stacked:
    """The K models' weights stacked (one leading axis of size K), their Adams, and one vmapped step."""

    def __init__(self, built: list[InfoGAN]):
        self.base = Step(built[0])  # the structure functional_call runs; the stacked tensors replace its own
        self.params, self.buffers = stack_module_state([Step(m) for m in built])
        opt_g, opt_d = built[0].configure_optimizers()  # the paper's Adam settings, taken as the modules set them

        def group(prefix):
            return [p for name, p in self.params.items() if name.startswith(prefix)]

        self.g = group("model.generator.")
        self.d = group("model.discriminator.")
        self.opt_g = torch.optim.Adam(self.g, **opt_g.defaults)
        self.opt_d = torch.optim.Adam(self.d, **opt_d.defaults)
        ema = [name for name in self.params if name.startswith("model.generator_ema.")]
        self.ema = [self.params[n] for n in ema], [self.params[n.replace("_ema.module.", ".")] for n in ema]
        self.decay = built[0].hparams.ema_decay

    def call(self, part, *args):
        def one(params, buffers, *inputs):
            return functional_call(self.base, (params, buffers), (part, *inputs))

        return vmap(one)(self.params, self.buffers, *args)

    def step(self, real, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """One training step of all K models on (K, B, ...) real images and inputs; returns (loss_d, loss_g), (K,)."""
        z, categories, codes = inputs["z"], inputs["categories"], inputs["codes"]
        fake = self.call("fake", real, z, categories, codes)
        loss_d = self.call("d", real, z, categories, codes, fake.detach())
        update(self.opt_d, loss_d.sum())  # the sum's gradient for each model's slice is that model's own
        with frozen(self.d):
            loss_g = self.call("g", real, z, categories, codes, fake)
            update(self.opt_g, loss_g.sum())
        if self.decay is not None:
            with torch.no_grad():
                torch._foreach_lerp_(self.ema[0], self.ema[1], 1 - self.decay)  # AveragedModel's EMA step
        return loss_d.detach(), loss_g.detach()


def real_batches(k: int, images: torch.Tensor, batch: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Each model's batch of real digits, drawn with replacement from ``gen`` (the global RNG is left to the noise)."""
    return [images[torch.randint(len(images), (batch,), generator=gen)] for _ in range(k)]


def run_one_after_another(built, images, batch, steps, warmup, gen) -> tuple[float, list]:
    """(img/s, every step's G losses): ``infogan_step`` on each model in turn; each draws its inputs from the global
    RNG in model order, as the stacked arm does."""
    optimizers = [m.configure_optimizers() for m in built]
    seen = []
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        reals = real_batches(len(built), images, batch, gen)
        for model, real, (opt_g, opt_d) in zip(built, reals, optimizers, strict=True):
            seen.append(infogan_step(model, real, None, opt_g, opt_d).item())
    return steps * batch * len(built) / (time.perf_counter() - start), seen


def run_stacked(built, images, batch, steps, warmup, gen) -> tuple[float, list]:
    """(img/s, every step's G losses) of the K models stacked, the same draws as ``run_one_after_another``."""
    stacked, seen = Stacked(built), []
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        reals = torch.stack(real_batches(len(built), images, batch, gen))
        inputs = [m.sample_inputs(batch) for m in built]
        _, loss_g = stacked.step(reals, {key: torch.stack([x[key] for x in inputs]) for key in inputs[0]})
        seen += loss_g.tolist()
    return steps * batch * len(built) / (time.perf_counter() - start), seen


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=3, help="models trained at once")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per arm")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="times each arm runs, alternating")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine("vmap_runs"))
    images = to_unit_range(load_split(SHIPPED, train=True)[0])
    rates = {"one after another": [], "stacked (vmap)": []}
    for repeat in range(args.repeats):
        for name, arm in (("one after another", run_one_after_another), ("stacked (vmap)", run_stacked)):
            built = models(args.k)
            torch.manual_seed(100 + repeat)  # the same draws for both arms of a repeat
            gen = torch.Generator().manual_seed(100 + repeat)
            rate, _ = arm(built, images, args.batch_size, args.steps, args.warmup, gen)
            rates[name].append(rate)
            print(f"repeat {repeat}: {name}: {rate:.1f} img/s (K={args.k} x batch {args.batch_size})")
    after, stacked = (statistics.median(r) for r in rates.values())
    ratio = stacked / after
    print(f"median img/s: one after another {after:.1f}, stacked {stacked:.1f}; ratio {ratio:.2f}")
    return {"rates": rates, "ratio": ratio}


if __name__ == "__main__":
    run()

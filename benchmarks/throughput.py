"""Training speed: the Trainer path users run against a plain PyTorch loop doing the same work, per variant.

Run from the repo root: ``python -m benchmarks.throughput [--variants gan dcgan infogan acgan cgan wgan_gp]
[--steps N] [--repeats R] [--batch-size 128] [--precisions 32-true bf16-mixed]``.

For each variant the arms alternate in one process (Trainer, plain, Trainer in bf16, Trainer, plain, ...):

- Trainer: ``lit_gans.cli.main`` with the variant's config, progress bar and logging as configured; validation,
  the picture callbacks and periodic checkpoints off (the epoch-end checkpoint falls after the timed window).
- plain: fresh networks of the same class and config (same seed, so the same initial weights), the optimizers from
  the module's ``configure_optimizers``, the DataModule's train loader, and the D-then-G step of the variant's
  ``training_step`` written with ``loss.backward()``: no logging, no progress bar, no divergence check. Only
  GAN (gan, dcgan), InfoGAN and AC-GAN have one: cGAN and WGAN-GP are timed through the Trainer only (a
  Lightning-free step for each would be one more hand-written copy of ``training_step``;
  ``benchmarks/floor.py`` measures what the Trainer costs per step).
- precision: one Trainer run per extra ``--precisions`` value (``--trainer.precision``, e.g. ``bf16-mixed``: the
  forwards under ``torch.autocast`` in bfloat16, weights and optimizers in float32), to compare with the first.

Only the steady state is timed: the clock starts after ``--warmup`` steps and stops after the last one, in both
arms. The DataModule's train loader is also timed alone, to check that the data never limits training.

Each repeat's Trainer run is paired with the plain run after it: "extra ms/step" is the median over the pairs of
(Trainer - plain) ms/step, with the spread (max - min) beside it; "noisy" marks a variant whose spread is larger than
its effect, i.e. the machine's load moved more than the Trainer costs. A third arm, ``--compile-runs`` Trainer runs
with ``lit_gans.callbacks.CompileNetworks`` (torch.compile of G and D), gives the "compile" column, after the
warm-up steps (compilation happens in the first step).
"""

import argparse
import contextlib
import datetime
import math
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import lightning
import torch
from lightning import Callback, seed_everything

from lit_gans import losses
from lit_gans.cli import main as cli_main
from lit_gans.models import ACGAN, GAN, InfoGAN

ROOT = Path(__file__).resolve().parents[1]  # configs and data/ are found from the repo root
VARIANTS = ("gan", "dcgan", "infogan", "acgan", "cgan", "wgan_gp")
# timed generator steps per variant at batch 128: 12-25 s per arm on a 2-core CPU shared with another training job
# (about 40 ms per MLP-GAN step, 0.4-0.5 s per DCGAN/InfoGAN/AC-GAN step, 5 critic steps per WGAN-GP step)
DEFAULT_STEPS = {"gan": 300, "dcgan": 60, "infogan": 30, "acgan": 30, "cgan": 30, "wgan_gp": 8}
PRECISION_NAMES = {"32-true": "fp32", "32": "fp32", "bf16-mixed": "bf16", "bf16-true": "bf16-true"}


class StepTimer(Callback):
    """Clock after the step ``warmup`` and after the last step: the steady state, every hook of a step included.

    Also records the initial weights' checksum, the device and the RNG state at the start of training, so the plain
    arm can start from the same weights and draw the same batches and noise.
    """

    profiler = None  # a cProfile.Profile to switch on for the timed window (benchmarks/profile_step.py sets it)

    def __init__(self, warmup: int = 5):
        self.warmup = warmup
        self.start = self.end = None
        self.timed_steps = 0
        self.checksum = self.rng_state = None
        self.device = torch.device("cpu")

    def on_fit_start(self, trainer, pl_module) -> None:
        # before the train loader's first iter() draws its shuffle seed; the metrics callback's setup has already
        # drawn from the RNG, so seeding alone would not give the plain arm the same batches and noise
        self.rng_state = torch.get_rng_state()

    def on_train_start(self, trainer, pl_module) -> None:
        self.checksum = checksum(pl_module)
        self.device = pl_module.device

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step  # already counts this batch's generator update
        if step >= self.warmup:
            sync(self.device)
            now = time.perf_counter()
            if step == self.warmup:
                self.start = now
                if self.profiler is not None:
                    self.profiler.enable()
            else:
                self.end, self.timed_steps = now, step - self.warmup
                if self.profiler is not None and step == trainer.max_steps:
                    self.profiler.disable()


def checksum(model) -> float:
    return sum(p.detach().double().sum().item() for p in model.parameters())


def sync(device: torch.device) -> None:
    if device.type == "cuda":  # CUDA runs asynchronously: wait for the queued work before reading the clock
        torch.cuda.synchronize(device)


# ---- the plain arm: each variant's training_step without Lightning ----------------------------------------------


@contextlib.contextmanager
def frozen(weights):
    """D's weights (a module's ``parameters()``, or tensors) need no gradient during G's update (what
    ``toggled_optimizer`` does in the Trainer arm)."""
    weights = list(weights)
    flags = [w.requires_grad for w in weights]
    for w in weights:
        w.requires_grad_(False)
    try:
        yield
    finally:
        for w, flag in zip(weights, flags, strict=True):
            w.requires_grad_(flag)


def update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def gan_step(model: GAN, real, labels, opt_g, opt_d) -> torch.Tensor:
    fake = model.generator(model.sample_inputs(real.size(0), None)["z"])  # computed once, used by both updates
    d_real, d_fake = model.discriminator(real), model.discriminator(fake.detach())
    update(opt_d, losses.d_loss(d_real, d_fake))
    with frozen(model.discriminator.parameters()):
        loss_g = losses.g_loss(model.discriminator(fake))
        update(opt_g, loss_g)
    model.update_ema()
    return loss_g


def infogan_d_loss(model: InfoGAN, real, fake, categories, codes) -> torch.Tensor:
    """D and Q's loss in InfoGAN's ``training_step`` (paper config): real against (detached) fakes, plus the codes."""
    d_real, _ = model.discriminator(real)
    d_fake, h_fake = model.discriminator(fake)
    cat_ce, cont_nll = model.info_terms(h_fake, categories, codes)
    return losses.d_loss(d_real, d_fake) + model.hparams.lambda_cat * cat_ce + model.hparams.lambda_cont * cont_nll


def infogan_g_loss(model: InfoGAN, fake, categories, codes) -> torch.Tensor:
    """G's loss in InfoGAN's ``training_step``: fool D and keep the codes recoverable by Q."""
    d_fake, h = model.discriminator(fake)
    cat_ce, cont_nll = model.info_terms(h, categories, codes)
    return losses.g_loss(d_fake) + model.hparams.lambda_cat * cat_ce + model.hparams.lambda_cont * cont_nll


def infogan_step(model: InfoGAN, real, labels, opt_g, opt_d) -> torch.Tensor:
    inputs = model.sample_inputs(real.size(0))
    categories, codes = inputs["categories"], inputs["codes"]
    fake = model.generator(inputs["z"])
    update(opt_d, infogan_d_loss(model, real, fake.detach(), categories, codes))
    with frozen(model.discriminator.parameters()):
        loss_g = infogan_g_loss(model, fake, categories, codes)
        update(opt_g, loss_g)
    model.update_ema()
    return loss_g


def acgan_step(model: ACGAN, real, labels, opt_g, opt_d) -> torch.Tensor:
    inputs = model.sample_inputs(real.size(0))
    fake_labels = inputs["labels"]
    fake = model.generator(inputs["z"])
    src_real, cls_real = model.discriminator(real)
    src_fake, cls_fake = model.discriminator(fake.detach())
    loss_c = losses.class_loss(cls_real, labels) + losses.class_loss(cls_fake, fake_labels)
    update(opt_d, losses.d_loss(src_real, src_fake) + loss_c)
    with frozen(model.discriminator.parameters()):
        src, cls = model.discriminator(fake)
        loss_g = losses.g_loss(src) + losses.class_loss(cls, fake_labels)
        update(opt_g, loss_g)
    model.update_ema()
    return loss_g


def plain_step_for(model):
    """The plain step of ``model``'s variant, or None (cGAN, WGAN-GP: timed through the Trainer only)."""
    for cls, step in ((InfoGAN, infogan_step), (ACGAN, acgan_step), (GAN, gan_step)):
        if type(model) is cls:  # exactly: a subclass's training_step is its own
            return step
    return None


# ---- the two arms -----------------------------------------------------------------------------------------------


def run_trainer(variant: str, steps: int, warmup: int, batch_size: int, root: str, extra: list[str] = ()):
    """Img/s of ``lit_gans.cli.main`` fit, and the CLI (its model and DataModule are the plain arm's blueprint)."""
    timer = f"{StepTimer.__module__}.StepTimer"  # importable: __main__ as a script, the module name when imported
    # the progress bar writes to stdout (a terminal for users): to a file here, so the table stays readable
    with open(Path(root) / "progress.txt", "a") as out, contextlib.redirect_stdout(out):
        cli = cli_main(
            [
                "fit",
                f"--config={variant}",
                f"--data.batch_size={batch_size}",
                f"--trainer.max_steps={warmup + steps}",
                "--trainer.limit_val_batches=0",  # validation off: this measures training
                "--images.every_n_steps=0",  # pictures only after validation, i.e. never here
                "--checkpoint.every_n_train_steps=0",  # no periodic checkpoint inside the timed window
                f"--trainer.default_root_dir={root}",
                f'--trainer.callbacks+={{"class_path": "{timer}", "init_args": {{"warmup": {warmup}}}}}',
                *extra,
            ]
        )
    timer = next(c for c in cli.trainer.callbacks if isinstance(c, StepTimer))
    if timer.timed_steps != steps:
        raise RuntimeError(f"{variant}: timed {timer.timed_steps} steps, expected {steps}")
    return steps * batch_size / (timer.end - timer.start), cli, timer


def run_plain(blueprint, steps: int, warmup: int, timer: StepTimer):
    """(img/s, final weights' checksum) of the plain loop on fresh networks like the Trainer arm's (same seed)."""
    seed_everything(blueprint.config["fit"]["seed_everything"], verbose=False)
    config = {k: v for k, v in blueprint.model.hparams.items() if not k.startswith("_")}  # no CLI bookkeeping
    model = type(blueprint.model)(
        **config, optimizer_g=blueprint.model.optimizer_g, optimizer_d=blueprint.model.optimizer_d
    )
    if abs(checksum(model) - timer.checksum) > 1e-6 * max(1.0, abs(timer.checksum)):
        raise RuntimeError(f"{type(model).__name__}: the plain arm's initial weights differ from the Trainer arm's")
    if model.d_steps != 1:
        raise ValueError("the plain loop does one D and one G update per batch: use a config with d_steps 1")
    device = timer.device
    model.to(device).train()
    opt_g, opt_d = model.configure_optimizers()
    config = {k: v for k, v in blueprint.datamodule.hparams.items() if not k.startswith("_")}
    datamodule = type(blueprint.datamodule)(**config)
    datamodule.setup("fit")
    step = plain_step_for(model)
    if step is None:
        raise TypeError(f"no plain loop for {type(model).__name__}")
    torch.set_rng_state(timer.rng_state)  # then the same shuffle order and the same noise as the Trainer arm
    batches = iter(datamodule.train_dataloader())
    for i in range(warmup + steps):
        real, labels = (t.to(device) for t in next(batches))
        step(model, real, labels, opt_g, opt_d)
        if i + 1 == warmup:
            sync(device)
            start = time.perf_counter()
    sync(device)
    return steps * real.size(0) / (time.perf_counter() - start), checksum(model)


def loader_rate(datamodule) -> float:
    """Img/s of iterating one epoch of the DataModule's train loader, nothing else."""
    start, images = time.perf_counter(), 0
    for real, _ in datamodule.train_dataloader():
        images += real.size(0)
    return images / (time.perf_counter() - start)


# ---- report -----------------------------------------------------------------------------------------------------


def machine(benchmark: str) -> str:
    """Two header lines every timing script prints: the benchmark and the time, then the machine, software and load."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{benchmark} benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}\n"
        f"platform {platform.platform()}, python {platform.python_version()}, torch {torch.__version__}, "
        f"lightning {lightning.__version__}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
        f"load average {load}"
    )


def header(args) -> str:
    return machine("throughput") + (
        f"\nbatch {args.batch_size}, warm-up {args.warmup} steps skipped, {args.repeats} repeats per arm, interleaved"
    )


def run(argv: list[str] | None = None) -> dict:
    """Parses ``argv``, runs the benchmark, prints the table and headline; returns the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=None, help="timed steps per run (default: per variant)")
    parser.add_argument("--warmup", type=int, default=5, help="steps skipped before the clock starts")
    parser.add_argument("--repeats", type=int, default=3, help="runs per arm; the median is reported")
    parser.add_argument("--batch-size", type=int, default=128)  # the configs' batch size
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's, as users run)")
    parser.add_argument("--compile-runs", type=int, default=1, help="Trainer runs with compiled G and D (0: none)")
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["32-true", "bf16-mixed"],
        help="--trainer.precision of the Trainer arms;"
        " the first is the one the plain arm matches (float32), each other one gets a column of its own",
    )
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.repeats < 1 or (args.steps is not None and args.steps < 1) or args.compile_runs < 0:
        parser.error("--warmup, --repeats and --steps must be >= 1, --compile-runs >= 0")
    if args.threads:  # on a CPU shared with other jobs, 1 thread is slower to disturb than a team of 2
        torch.set_num_threads(args.threads)
    os.chdir(ROOT)  # the configs' data_dir is relative to the repo root
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")  # our own argv, not the CLI's
    print(header(args), flush=True)

    results = {}
    with tempfile.TemporaryDirectory() as root:
        for variant in args.variants:
            results[variant] = measure(variant, args, root, parser)
        loader = statistics.median(loader_rate(results[variant]["cli"].datamodule) for _ in range(args.repeats))

    names = [PRECISION_NAMES.get(p, p) for p in args.precisions]
    head = f"\n{'variant':<8} {'steps':>5} {names[0] + ' img/s':>11}"
    head += "".join(f" {n + ' img/s':>11} {n + '/' + names[0]:>10}" for n in names[1:])
    head += f" {'plain img/s':>11} {'ratio':>6} {'extra ms/step':>13} {'spread':>7} {'compile img/s':>13}"
    print(head + f" {'same weights':>12} {'loader/trainer':>14}")
    for variant, r in results.items():
        row = f"{variant:<8} {r['steps']:>5} {r['trainer']:>11.0f}"
        row += "".join(f" {r['precisions'][p]:>11.0f} {r['precision_speedup'][p]:>10.3f}" for p in args.precisions[1:])
        if r["plain"] is not None:
            row += f" {r['plain']:>11.0f} {r['ratio']:>6.3f} {r['extra_ms']:>13.2f} {r['spread_ms']:>7.2f}"
        else:
            row += f" {'-':>11} {'-':>6} {'-':>13} {'-':>7}"
        row += f" {r['compile']:>13.0f}" if r["compile"] else f" {'-':>13}"
        same = {True: "yes", False: "NO", None: "-"}[r["same_weights"]]
        noisy = "  noisy: spread > effect" if r.get("noisy") else ""
        print(row + f" {same:>12} {loader / r['trainer']:>13.0f}x{noisy}")
        runs = "; ".join(f"{arm} {' '.join(f'{x:.0f}' for x in r[f'{arm}_runs'])}" for arm in ("trainer", "plain"))
        extras = " ".join(f"{x:.2f}" for x in r.get("extra_runs", []))
        print(f"{'':<8} runs img/s: {runs}; extra ms/step per pair: {extras or '-'}")
    fastest = max(r["trainer"] for r in results.values())
    timed = {v: r for v, r in results.items() if r["plain"] is not None}
    summary = "throughput:"
    if timed:
        ratios = ", ".join(f"{v} {r['ratio']:.3f}" for v, r in timed.items())
        extras = ", ".join(f"{v} {r['extra_ms']:.2f}±{r['spread_ms'] / 2:.2f}" for v, r in timed.items())
        noisy = [v for v, r in timed.items() if r["noisy"]]
        summary += f" trainer/plain ratio min {min(r['ratio'] for r in timed.values()):.3f} ({ratios});"
        summary += f" extra ms/step median±half-spread ({extras}){'; noisy: ' + ' '.join(noisy) if noisy else ''};"
    for p, name in zip(args.precisions[1:], names[1:], strict=True):
        speedups = ", ".join(f"{v} {r['precision_speedup'][p]:.2f}x" for v, r in results.items())
        summary += f" {name} over {names[0]} {speedups};"
    print(f"{summary} loader {loader:.0f} img/s = {loader / fastest:.0f}x training (the fastest variant)")
    for r in results.values():
        del r["cli"]  # the CLIs were only kept for the loader
    return {"variants": results, "loader": loader, "loader_over_training": loader / fastest}


def measure(variant: str, args, root: str, parser) -> dict:
    """Interleaved Trainer, plain and other-precision runs of one variant: medians, ratios, and whether the Trainer
    and plain arms reached the same weights."""
    steps = args.steps or DEFAULT_STEPS[variant]
    per_epoch = 60000 // args.batch_size
    trainer, plain, compiled = [], [], []
    precisions = {name: [] for name in args.precisions[1:]}
    same_weights = None  # no plain arm: nothing to compare
    for i in range(max(args.repeats, args.compile_runs)):
        if i < args.compile_runs:  # interleaved with the other arms, so a load change hits all three alike
            compile_arm = ["--trainer.callbacks+=lit_gans.callbacks.CompileNetworks"]
            compiled.append(run_trainer(variant, steps, args.warmup, args.batch_size, root, compile_arm)[0])
            print(f"  {variant}: trainer with compiled G and D {compiled[-1]:.0f} img/s", flush=True)
        if i >= args.repeats:
            continue
        first = [f"--trainer.precision={args.precisions[0]}"]
        rate, cli, timer = run_trainer(variant, steps, args.warmup, args.batch_size, root, first)
        if i == 0 and (args.warmup + steps) * cli.model.d_steps > per_epoch:
            parser.error(f"--warmup + --steps must fit in one epoch ({per_epoch} batches): no epoch end is timed")
        trainer.append(rate)
        line = f"  {variant}: trainer {trainer[-1]:.0f} img/s"
        if plain_step_for(cli.model) is not None:
            rate, weights_plain = run_plain(cli, steps, args.warmup, timer)
            plain.append(rate)
            weights_trainer = checksum(cli.model)  # (training scalars are logged every log_every_n_steps)
            # same initial weights, batches, noise and algorithm: the two arms end with the same weights (to rounding)
            same_weights = math.isclose(weights_trainer, weights_plain, rel_tol=1e-5, abs_tol=1e-6)
            line += f", plain {plain[-1]:.0f} img/s; final weights' checksum trainer {weights_trainer:.6f}, plain "
            line += f"{weights_plain:.6f}"
        for name, rates in precisions.items():
            rates.append(
                run_trainer(variant, steps, args.warmup, args.batch_size, root, [f"--trainer.precision={name}"])[0]
            )
            line += f"; trainer {name} {rates[-1]:.0f} img/s"
        print(line, flush=True)
    result = {
        "steps": steps,
        "compile": statistics.median(compiled) if compiled else None,
        "trainer": statistics.median(trainer),
        "trainer_runs": trainer,
        "plain": statistics.median(plain) if plain else None,
        "plain_runs": plain,
        "same_weights": same_weights,
        # each other precision's median img/s and its speed over the first precision's
        "precisions": {name: statistics.median(rates) for name, rates in precisions.items()},
        "precision_speedup": {
            name: statistics.median(rates) / statistics.median(trainer) for name, rates in precisions.items()
        },
        "cli": cli,
    }
    if plain:
        extra = [(1 / t - 1 / p) * args.batch_size * 1e3 for t, p in zip(trainer, plain, strict=True)]  # ms per step
        result["extra_ms"] = statistics.median(extra)  # the Trainer's own cost per step: median over the pairs
        result["spread_ms"] = max(extra) - min(extra)
        result["noisy"] = result["spread_ms"] > abs(result["extra_ms"])
        result["extra_runs"] = extra
        result["ratio"] = result["trainer"] / result["plain"]
    return result


if __name__ == "__main__":
    run()

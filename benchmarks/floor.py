"""The framework's floor: host milliseconds per training step when the networks' arithmetic is next to nothing.

Run from the repo root: ``python -m benchmarks.floor [--variants gan dcgan ...] [--steps 300] [--repeats 5]
[--batch-size 8] [--threads 1]``.

On a GPU a GAN step is about a millisecond of arithmetic, so the host's time per step (Python, Lightning, our callbacks
and checks) decides the speed. Here the networks keep their real layer structure (the same modules, the same kernel
calls) on 4x4 images at batch 8, so what is left of a step is that host time. Three arms per variant, interleaved in
one process (ours, lightning, plain, ours, ...) so that a change of the machine's load hits all three alike:

- plain: ``benchmarks/throughput.py``'s plain D-then-G step (``loss.backward()``, no Lightning), for the variants
  that have one there (gan, dcgan, infogan, acgan); "-" for the others.
- lightning: a bare ``lightning.Trainer`` (no logger, checkpoints, progress bar or model summary) fitting the
  variant's module, built from the config's class and arguments: Lightning's own machinery plus our module's in-step
  work (toggling, step counting, the finiteness checks).
- ours: ``lit_gans.cli.main fit --config <variant>`` as a user runs it (TensorBoard logger, our progress bar, the
  checkpoint callback and every callback the CLI adds), changed only where the measurement needs it: the tiny data,
  validation off, no pictures, no metric backbone, and no periodic checkpoints (``every_n_train_steps`` would put
  checkpoint writes inside the timed window; the epoch-end ``last.ckpt`` falls after it).

Only the steady state is timed: from after ``--warmup`` generator steps to the last one. A step is one generator
update, as ``trainer.global_step`` counts them: WGAN-GP's step is 5 critic batches and one G update ("batches").

"Lightning's share" is lightning - plain, "our callbacks" ours - lightning (the CLI's callbacks and logger), and
"our checks" the finiteness checks each step makes (``queue_finite_check`` per loss, ``raise_if_diverged`` per batch),
timed alone on a built model because they sit inside the lightning arm: our whole share is callbacks + checks. Each
difference is taken per repeat, then the median; "spread" is the max - min of our share over the repeats.
"""

import argparse
import contextlib
import importlib
import json
import math
import statistics
import tempfile
import time
import warnings

import lightning
import torch
import yaml
from lightning import LightningDataModule, seed_everything
from torch.utils.data import DataLoader, TensorDataset

from benchmarks import throughput
from lit_gans import nets
from lit_gans.cli import CONFIGS
from lit_gans.data import check_one_batch, shuffled_train_batches, to_unit_range


@contextlib.contextmanager
def four_pixel_networks():
    """Lets the convolutional networks take 4-pixel images while the benchmark runs: 1x1 maps after two stride-2
    stages, the MNIST nets' structure (two stages, the same modules and kernel calls) with next to no arithmetic.
    lit_gans itself takes 28, 32 and 64 pixels, and does again afterwards."""
    nets.SIZES[4] = 1
    try:
        yield
    finally:
        del nets.SIZES[4]


VARIANTS = ("gan", "dcgan", "infogan", "acgan", "cgan", "wgan_gp")  # config names in configs/
CHECK_STEPS = 1000  # generator steps of the finiteness checks timed alone: they take microseconds each


class TinyData(LightningDataModule):
    """Random, fixed 1x4x4 images in [-1, 1] with 10 labels, in memory, drawn as MNIST's are (``ShuffledBatches``).

    Args:
        batch_size: images per training batch.
        images: training images (the benchmark makes them enough for its steps to fit in one epoch).
        val_batch_size: images per validation batch (the benchmark validates nothing; the CLI may ask for the loader).
        predict_samples: how many samples ``predict`` generates (linked from ``--samples.count``).
        device_resident: keep the images on the training device, as ``MNISTDataModule``'s option.
    """

    img_shape = (1, 4, 4)  # linked into the model by the CLI
    num_classes = 10
    class_names = [str(k) for k in range(10)]
    dataset = "tiny"  # no shipped evaluator: no metrics, no sample accuracy

    def __init__(
        self,
        batch_size: int = 8,  # small: the arithmetic of a step should be negligible
        images: int = 4096,
        val_batch_size: int = 500,
        predict_samples: int = 64,
        device_resident: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters()
        rng = torch.Generator().manual_seed(0)  # not the global RNG: that one draws the weights, the same in every arm
        pixels = torch.randint(256, (images, *self.img_shape), dtype=torch.uint8, generator=rng)  # as idx files hold
        labels = torch.randint(self.num_classes, (images,), generator=rng)
        self.train_set = TensorDataset(pixels, labels)  # uint8: ShuffledBatches maps each batch to [-1, 1]
        self.val_set = TensorDataset(to_unit_range(pixels[:val_batch_size]), labels[:val_batch_size])

    def setup(self, stage: str) -> None:
        if stage == "fit":
            check_one_batch(self, len(self.train_set))

    def train_dataloader(self):
        return shuffled_train_batches(self)  # MNIST's batches: a seeded order, normalised per batch

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.val_batch_size)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(torch.arange(self.hparams.predict_samples), batch_size=self.hparams.val_batch_size)


class SeededTimer(throughput.StepTimer):
    """throughput's step timer that first sets the global RNG to ``rng_state`` when the fit starts, so the lightning
    arm draws the batches and noise the ours arm drew (the state its timer recorded at the same point)."""

    def __init__(self, warmup: int, rng_state: torch.Tensor):
        super().__init__(warmup)
        self.start_rng = rng_state

    def on_fit_start(self, trainer, pl_module) -> None:
        torch.set_rng_state(self.start_rng)
        super().on_fit_start(trainer, pl_module)


def batches_per_step(variant: str) -> int:
    """Batches per generator step under the variant's config: its ``d_steps``, else its class's paper value."""
    model = yaml.safe_load((CONFIGS / f"{variant}.yaml").read_text())["model"]
    module, name = model["class_path"].rsplit(".", 1)
    given = (model.get("init_args") or {}).get("d_steps")
    return given or getattr(importlib.import_module(module), name).paper_d_steps


# ---- the three arms, and the checks alone -----------------------------------------------------------------------


def run_ours(variant: str, steps: int, warmup: int, batch_size: int, images: int, root: str, extra=()):
    """(ms/step, the CLI, its timer) of ``lit_gans.cli.main fit`` on the tiny data: throughput.py's Trainer arm
    (validation, pictures and periodic checkpoints off) with the tiny data and no metric backbone."""
    data = {"class_path": f"{TinyData.__module__}.TinyData", "init_args": {"batch_size": batch_size, "images": images}}
    tiny = [
        f"--data={json.dumps(data)}",
        "--metrics.backbone=none",  # no evaluator to build for 4x4 images
        "--trainer.accelerator=cpu",
        *extra,
    ]
    rate, cli, timer = throughput.run_trainer(variant, steps, warmup, batch_size, root, tiny)  # images per second
    return batch_size / rate * 1e3, cli, timer


def run_lightning(blueprint, steps: int, warmup: int, start: throughput.StepTimer, root: str):
    """(ms/step, the module, its timer) of a bare Trainer fitting a module like the ours arm's, from the
    same seed (so the same initial weights) and RNG state (the same batches and noise)."""
    seed_everything(blueprint.config["fit"]["seed_everything"], verbose=False)
    config = {k: v for k, v in blueprint.model.hparams.items() if not k.startswith("_")}  # no CLI bookkeeping
    model = type(blueprint.model)(
        **config, optimizer_g=blueprint.model.optimizer_g, optimizer_d=blueprint.model.optimizer_d
    )
    config = {k: v for k, v in blueprint.datamodule.hparams.items() if not k.startswith("_")}
    datamodule = type(blueprint.datamodule)(**config)
    timer = SeededTimer(warmup, start.rng_state)
    trainer = lightning.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=warmup + steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[timer],
        default_root_dir=root,  # nothing is written; in case Lightning wants a folder, not the working one
    )
    trainer.fit(model, datamodule=datamodule)
    if not math.isclose(timer.checksum, start.checksum, rel_tol=1e-6, abs_tol=1e-6):
        raise RuntimeError(f"{type(model).__name__}: the lightning arm's initial weights differ from the ours arm's")
    if timer.timed_steps != steps:
        raise RuntimeError(f"{type(model).__name__} (lightning): timed {timer.timed_steps} steps, expected {steps}")
    return (timer.end - timer.start) / steps * 1e3, model, timer


def has_plain_step(model) -> bool:
    """Whether throughput.py writes this variant's step out without Lightning (one D and one G update per batch)."""
    return throughput.plain_step_for(model) is not None and model.d_steps == 1


def run_plain(blueprint, steps: int, warmup: int, start: throughput.StepTimer) -> tuple[float, float]:
    """(ms/step, final weights' checksum) of throughput.py's plain loop on the tiny data."""
    rate, weights = throughput.run_plain(blueprint, steps, warmup, start)  # images per second
    return blueprint.datamodule.hparams.batch_size / rate * 1e3, weights


def checks_ms(model, batches: int) -> float:
    """ms per generator step of the finiteness checks a training step makes: per batch ``queue_finite_check`` of
    loss/d (and of loss/g on the batch that updates G), then ``raise_if_diverged`` in ``finish_step`` and again, with
    nothing queued, in ``on_train_batch_end``."""
    loss = torch.zeros((), requires_grad=True) * 1.0  # a scalar with a graph behind it, as a step's losses
    start = time.perf_counter()
    for _ in range(CHECK_STEPS):
        for batch in range(batches):
            model.queue_finite_check("loss/d", loss)
            if batch == batches - 1:
                model.queue_finite_check("loss/g", loss)
            model.raise_if_diverged()  # finish_step's: one host sync
            model.raise_if_diverged()  # on_train_batch_end's
    return (time.perf_counter() - start) / CHECK_STEPS * 1e3


# ---- report -----------------------------------------------------------------------------------------------------


def header(args) -> str:
    return throughput.machine("floor") + (
        f"\nbatch {args.batch_size} of 1x4x4 images, {args.steps} timed steps after {args.warmup} warm-up steps, "
        f"{args.repeats} repeats per arm, interleaved (ours, lightning, plain)"
    )


def ms(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


def run(argv: list[str] | None = None) -> dict:
    """Parses ``argv``, runs the benchmark, prints the table and the floor line; returns the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=300, help="timed generator steps per run")
    parser.add_argument("--warmup", type=int, default=10, help="generator steps before the clock starts")
    parser.add_argument("--repeats", type=int, default=5, help="runs per arm; the median is reported")
    parser.add_argument("--batch-size", type=int, default=8)  # small: the arithmetic should be negligible
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: the least disturbed)")
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.repeats < 1 or args.steps < 1 or args.batch_size < 2 or args.threads < 1:
        parser.error("--warmup, --repeats, --steps and --threads must be >= 1, --batch-size >= 2 (BatchNorm)")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")  # our own argv, not the CLI's
    print(header(args), flush=True)

    with tempfile.TemporaryDirectory() as root, four_pixel_networks():
        results = {variant: measure(variant, args, root) for variant in args.variants}

    print(
        f"\nms per generator step (wgan_gp: 5 critic batches and one G update), median of {args.repeats}\n"
        f"{'variant':<8} {'batches':>7} {'plain':>8} {'lightning':>9} {'ours':>8} {'Lightning share':>15} "
        f"{'our callbacks':>13} {'our checks':>10} {'our share':>9} {'spread':>7} {'same weights':>12}"
    )
    for variant, r in results.items():
        same = "yes" if r["same_weights"] else "NO"
        print(
            f"{variant:<8} {r['batches']:>7} {ms(r['plain'], 8)} {r['lightning']:>9.3f} {r['ours']:>8.3f} "
            f"{ms(r['lightning_share'], 15)} {r['callbacks']:>13.3f} {r['checks']:>10.3f} {r['our_share']:>9.3f} "
            f"{r['spread']:>7.3f} {same:>12}{'  noisy: spread > our share' if r['noisy'] else ''}"
        )
        runs = "; ".join(
            f"{arm} {' '.join(f'{x:.3f}' for x in r['runs'][arm]) or '-'}" for arm in ("ours", "lightning", "plain")
        )
        print(f"{'':<8} runs ms/step: {runs}")
    shares = ", ".join(f"{v} {r['our_share']:.3f}" for v, r in results.items())
    lightning_shares = ", ".join(f"{v} {ms(r['lightning_share'], 0)}" for v, r in results.items())
    print(f"floor: our share ms/step {shares}; Lightning's share {lightning_shares}")
    return {"variants": results}


def measure(variant: str, args, root: str) -> dict:
    """Interleaved ours, lightning and plain runs of one variant, and the checks alone: medians and shares."""
    batches = batches_per_step(variant)
    images = max(4096, args.batch_size * batches * (args.warmup + args.steps + 1))  # one epoch: none ends in the window
    runs = {"ours": [], "lightning": [], "plain": [], "checks": []}  # ms per generator step
    timed = {"ours": [], "lightning": []}  # generator steps inside the clock
    weights = {"ours": [], "lightning": [], "plain": []}  # final weights' checksums
    for _ in range(args.repeats):
        ms_ours, cli, start = run_ours(variant, args.steps, args.warmup, args.batch_size, images, root)
        ms_lightning, model, timer = run_lightning(cli, args.steps, args.warmup, start, root)
        for arm, value, clock, net in (("ours", ms_ours, start, cli.model), ("lightning", ms_lightning, timer, model)):
            runs[arm].append(value)
            timed[arm].append(clock.timed_steps)
            weights[arm].append(throughput.checksum(net))
        if has_plain_step(cli.model):
            ms_plain, checksum = run_plain(cli, args.steps, args.warmup, start)
            runs["plain"].append(ms_plain)
            weights["plain"].append(checksum)
        runs["checks"].append(checks_ms(model, batches))
        done = {arm: f"{values[-1]:.3f}" if values else "-" for arm, values in runs.items()}
        sums = ", ".join(f"{arm} {values[-1]:.6f}" for arm, values in weights.items() if values)
        print(
            f"  {variant}: ours {done['ours']}, lightning {done['lightning']}, plain {done['plain']}, checks "
            f"{done['checks']} ms/step; final weights' checksum {sums}",
            flush=True,
        )
    callbacks = [o - lt for o, lt in zip(runs["ours"], runs["lightning"], strict=True)]
    our_share = [c + k for c, k in zip(callbacks, runs["checks"], strict=True)]
    lightning_share = [lt - p for lt, p in zip(runs["lightning"], runs["plain"], strict=True)] if runs["plain"] else []
    # same initial weights, batches, noise and algorithm: every arm ends with the same weights (to rounding)
    same = [
        math.isclose(other, ref, rel_tol=1e-5, abs_tol=1e-6)
        for arm in ("ours", "plain")
        for other, ref in zip(weights[arm], weights["lightning"], strict=False)  # plain: none, or one per repeat
    ]
    result = {
        "steps": args.steps,
        "batches": batches,  # per generator step
        "timed": timed,
        "ours": statistics.median(runs["ours"]),
        "lightning": statistics.median(runs["lightning"]),
        "plain": statistics.median(runs["plain"]) if runs["plain"] else None,
        "lightning_share": statistics.median(lightning_share) if lightning_share else None,
        "callbacks": statistics.median(callbacks),
        "checks": statistics.median(runs["checks"]),
        "our_share": statistics.median(callbacks) + statistics.median(runs["checks"]),
        "spread": max(our_share) - min(our_share),
        "same_weights": all(same),
        "runs": runs,
        "weights": weights,
    }
    result["noisy"] = result["spread"] > abs(result["our_share"])
    return result


if __name__ == "__main__":
    run()

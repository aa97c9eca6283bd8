"""Where a run's wall time goes: training against validation, FID/IS/KID, pictures and checkpoints, per config.

Run from the repo root: ``python -m benchmarks.time_split --config infogan [--config fashion_mnist] [--epochs K]
[--threads 1] [--out docs/time_split.csv]``; further ``--trainer.*``/``--model.*``/``--data.*`` arguments go to the CLI.

A config is trained as shipped (its validation cadence, metrics on 10,000 samples, pictures, checkpoints) for one
validation period: ``--epochs`` defaults to the config's ``check_val_every_n_epoch``, so the window holds that many
epochs of training, one validation and the checkpoint and pictures that come with it; a whole run repeats this
period (plus start-up once). Lightning's ``SimpleProfiler`` times every hook; its actions are summed by job:

- training: ``run_training_batch`` (the training steps), plus drawing the batches;
- validation: the validation steps and the model's validation hooks (the variant's own measure, e.g. InfoGAN's code
  accuracy), and the validation batches;
- metrics: ``GenerationMetrics`` (generating the samples, FID/IS/KID);
- pictures: the picture callbacks (sample grids, traversals, class grids);
- checkpoints: the checkpoint callbacks, saving included;
- other: everything else after start-up (other hooks, logging, the loops' own work).

Start-up (data, evaluator, networks: before the first training batch) is reported apart; the non-training share is
(validation + metrics + pictures + checkpoints) / (wall time after start-up): what a whole run spends beside training.
"""

import argparse
import contextlib
import csv
import datetime
import json
import os
import re
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import lightning
import torch
import yaml
from lightning import Callback

from lit_gans.cli import main as cli_main
from lit_gans.cli import resolve_config_args

ROOT = Path(__file__).resolve().parents[1]
JOBS = ("training", "validation", "metrics", "pictures", "checkpoints", "other")
PICTURES = ("SampleGrid", "LatentTraversal", "ClassGrid")
CHECKPOINTS = ("GANCheckpoint", "InterruptCheckpoint", "ModelCheckpoint")
NESTED = ("run_training_epoch", "optimizer_step", "save_checkpoint")  # inside other actions: not counted twice


class TrainingWindow(Callback):
    """Clock at the start and the end of training: start-up is what comes before, and its profiled actions (the
    sanity check's validation among them) are dropped, so that every job's seconds fall in the window."""

    def __init__(self):
        self.start = self.end = None

    def on_train_start(self, trainer, pl_module) -> None:
        trainer.profiler.recorded_durations.clear()  # actions still running are kept: they record when they stop
        self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self.end = time.perf_counter()


def job_of(action: str) -> str | None:
    """The job a ``SimpleProfiler`` action belongs to; None for actions nested in others."""
    if action in NESTED or action.startswith("[Strategy]") and action.endswith(".training_step"):
        return None  # nested in run_training_batch / run_training_epoch / a checkpoint hook
    if action in ("run_training_batch", "[_TrainingEpochLoop].train_dataloader_next"):
        return "training"
    callback = re.match(r"\[Callback\](\w+)", action)
    if callback and callback.group(1) == "GenerationMetrics":
        return "metrics"
    if callback and callback.group(1) in PICTURES:
        return "pictures"
    if callback and callback.group(1) in CHECKPOINTS:
        return "checkpoints"
    if not callback and ("validation" in action or action == "[_EvaluationLoop].val_next"):
        return "validation"
    return "other"


def config_value(configs: list[str], key: str, default):
    """``trainer.<key>`` as the configs set it (the last one that sets it wins)."""
    value = default
    for arg in resolve_config_args([f"--config={config}" for config in configs]):  # found as the CLI finds them
        trainer = (yaml.safe_load(Path(arg.split("=", 1)[1]).read_text()) or {}).get("trainer") or {}
        value = trainer.get(key, value)
    return value


def measure(configs: list[str], epochs: int, root: str, extra: list[str]) -> dict:
    """Trains the configs for ``epochs`` epochs as shipped; returns seconds per job, start-up and wall time."""
    window = f"{TrainingWindow.__module__}.TrainingWindow"  # importable: __main__ as a script, the module name else
    profiler = {"class_path": "lightning.pytorch.profilers.SimpleProfiler", "init_args": {"dirpath": root}}
    start = time.perf_counter()
    with open(Path(root) / "progress.txt", "a") as out, contextlib.redirect_stdout(out):  # the progress bar
        cli = cli_main(
            [
                "fit",
                *[f"--config={config}" for config in configs],
                f"--trainer.max_epochs={epochs}",
                "--trainer.max_steps=-1",  # the epochs decide: one validation period
                f"--trainer.default_root_dir={root}",
                f"--trainer.profiler={json.dumps(profiler)}",
                f"--trainer.callbacks+={window}",
                *extra,
            ]
        )
    wall = time.perf_counter() - start
    clock = next(c for c in cli.trainer.callbacks if isinstance(c, TrainingWindow))
    seconds = dict.fromkeys(JOBS, 0.0)
    for action, durations in cli.trainer.profiler.recorded_durations.items():
        job = job_of(action)
        if job not in (None, "other"):  # other: what is left of the window once every timed job is taken out
            seconds[job] += sum(durations)
    after_start = clock.end - clock.start
    seconds["other"] = after_start - sum(seconds[job] for job in JOBS if job != "other")  # what no action timed too
    beside = sum(seconds[job] for job in ("validation", "metrics", "pictures", "checkpoints"))
    return {
        "wall_s": wall,
        "startup_s": clock.start - start,
        "steps": cli.trainer.global_step,
        **{f"{job}_s": seconds[job] for job in JOBS},
        "non_training_share": beside / after_start,
        "precision": str(cli.trainer.precision),
    }


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        return ""


def write_row(path: Path, row: dict) -> None:
    """Appends ``row`` to the CSV (header first when new); a config measured again adds a row, dated."""
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row), lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)


def run(argv: list[str] | None = None) -> dict:
    """Parses ``argv`` (unknown options go to the CLI), trains one period, prints the split; returns it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", required=True, help="a config in configs/ or a path; repeat")
    parser.add_argument("--epochs", type=int, default=None, help="default: the config's check_val_every_n_epoch")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=None, help="append the result to this CSV")
    args, extra = parser.parse_known_args(argv)
    epochs = args.epochs or config_value(args.config, "check_val_every_n_epoch", 1)
    if epochs < 1:
        parser.error(f"--epochs must be >= 1, got {epochs}")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.chdir(ROOT)  # the configs' data_dir is relative to the repo root
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
    with tempfile.TemporaryDirectory() as root:
        result = measure(args.config, epochs, root, extra)
    name = "+".join(Path(c).stem for c in args.config)
    shares = {job: result[f"{job}_s"] / (result["wall_s"] - result["startup_s"]) for job in JOBS}
    print(
        f"time split, {datetime.datetime.now().isoformat(timespec='seconds')}, torch {torch.__version__}, lightning "
        f"{lightning.__version__}, torch threads {torch.get_num_threads()}, precision {result['precision']}\n"
        f"{name}: {epochs} epoch(s), {result['steps']} generator steps, wall {result['wall_s']:.1f} s, start-up "
        f"{result['startup_s']:.1f} s; after start-up: "
        + ", ".join(f"{job} {result[f'{job}_s']:.1f} s ({100 * shares[job]:.1f}%)" for job in JOBS)
        + f"\ntime split: {name} non-training share {100 * result['non_training_share']:.1f}%"
    )
    row = {"config": name, "epochs": epochs, **result, "threads": torch.get_num_threads(), "extra": " ".join(extra)}
    row.update(date=datetime.date.today().isoformat(), commit=commit())
    if args.out:
        write_row(Path(args.out), row)
    return row


if __name__ == "__main__":
    run()

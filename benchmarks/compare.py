"""Every variant at one budget, side by side: FID / IS / KID on 10k samples, each variant's own measure, wall time,
for the trained G and its EMA copy, plus a picture row per variant.

Run from the repo root: ``python -m benchmarks.compare [--configs gan dcgan infogan acgan] [--steps 2340] [--seed 0]
[--out docs/compare] [--log-dir DIR] [--val-every-n-epochs N]``. Each config is trained through ``lit_gans.cli.main``
for ``--steps`` generator steps with EMA copies of G (``--ema``, default 0.999; several decays are kept side by side
in one run: ``--ema 0.999 0.99``) and no validation during training
(``--val-every-n-epochs N`` validates every N epochs instead, to log a curve such as WGAN-GP's ``val/wasserstein``;
``--log-dir`` keeps each run's TensorBoard logs under ``DIR/<config>``); then the run is validated twice,
once sampling from G and once from each EMA copy (the EMAs do not touch training, so one run gives all). Rows are
appended to ``<out>.csv`` as each config finishes (a run that is interrupted keeps the rows before it), and
``<out>.png`` shows 10 samples from the first EMA copy for every config in the CSV (so configs can be run
one at a time). Further ``--trainer.*``/``--data.*`` arguments go to the CLI unchanged.
"""

import argparse
import csv
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from lit_gans.callbacks import EMACopies
from lit_gans.cli import main as cli_main
from lit_gans.data import to_unit_interval

ROOT = Path(__file__).resolve().parents[1]
MEASURES = ["val/code_accuracy", "val/sample_accuracy", "val/wasserstein"]  # each variant's own, where it logs one
FIELDS = ["config", "steps", "seed", "sampler", "fid", "is", "kid", "measure", "value", "wall_s"]


def train(config: str, steps: int, seed: int, emas: list[float], root: str, extra: list[str], val_every: int = 100000):
    """Fits ``config`` for ``steps`` generator steps, validating every ``val_every`` epochs (by default never), with
    the model's EMA at ``emas[0]`` and further copies at the other decays; returns (cli, wall seconds of the fit)."""
    start = time.perf_counter()
    if len(emas) > 1:
        copies = {"class_path": "lit_gans.callbacks.EMACopies", "init_args": {"decays": emas[1:]}}
        extra = [f"--trainer.callbacks+={json.dumps(copies)}", *extra]
    cli = cli_main(
        [
            "fit",
            f"--config={config}",
            f"--seed_everything={seed}",
            f"--trainer.max_steps={steps}",
            "--trainer.max_epochs=-1",  # --steps decides, whatever the config's epoch count
            f"--trainer.check_val_every_n_epoch={val_every}",  # by default none inside the budget: scored after
            "--trainer.num_sanity_val_steps=0",
            "--trainer.enable_progress_bar=false",
            f"--model.init_args.ema_decay={emas[0]}",
            f"--trainer.default_root_dir={root}",
            *extra,
        ]
    )
    return cli, time.perf_counter() - start


def score(cli) -> dict[str, dict[str, float]]:
    """Validates the trained model with G, then with each EMA copy: {"G": {...}, "EMA 0.999": {...}, ...}."""
    model, trainer = cli.model, cli.trainer
    ema = model.generator_ema
    samplers = {"G": None, f"EMA {model.hparams.ema_decay:g}": ema}
    for callback in trainer.callbacks:
        if isinstance(callback, EMACopies):
            samplers |= {f"EMA {decay:g}": copy for decay, copy in callback.copies.items()}
    results = {}
    try:
        for name, copy in samplers.items():
            model.generator_ema = copy  # None: sampling_generator falls back to G
            results[name] = trainer.validate(model, datamodule=cli.datamodule, verbose=False)[0]
    finally:
        model.generator_ema = ema
    return {k: {name: float(v) for name, v in values.items()} for k, values in results.items()}


def rows_for(config: str, steps: int, seed: int, wall: float, results: dict) -> list[dict]:
    rows = []
    for sampler, values in results.items():
        measure = next((m for m in MEASURES if m in values), "")
        rows.append(
            {
                "config": config,
                "steps": steps,
                "seed": seed,
                "sampler": sampler,
                "fid": f"{values['val/fid']:.3f}",
                "is": f"{values['val/is']:.3f}",
                "kid": f"{values['val/kid']:.4f}",
                "measure": measure.removeprefix("val/"),
                "value": f"{values[measure]:.4f}" if measure else "",
                "wall_s": f"{wall:.0f}",
            }
        )
    return rows


def append_rows(path: Path, rows: list[dict]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerows(rows)


def picture_row(cli, n: int = 10) -> torch.Tensor:
    """n samples from the EMA copy (fixed seed), in [0, 1]: one row of the comparison picture."""
    return to_unit_interval(cli.model.sample(n, seed=0).cpu())


def run(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["gan", "dcgan", "infogan", "acgan"])
    parser.add_argument("--steps", type=int, default=2340, help="generator steps (2,340 = 5 epochs at batch 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ema", type=float, nargs="+", default=[0.999], help="EMA decays, one sampler each")
    parser.add_argument("--num-eval-samples", type=int, default=10000)
    parser.add_argument("--out", default="docs/compare", help="output path without suffix (CSV rows are appended)")
    parser.add_argument("--log-dir", help="keep each run's logs under LOG_DIR/<config> (default: a temporary folder)")
    parser.add_argument("--val-every-n-epochs", type=int, default=100000, help="validate during training too")
    args, extra = parser.parse_known_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.val_every_n_epochs < 1:
        parser.error("--val-every-n-epochs must be >= 1")
    out = Path(args.out).resolve()
    log_dir = Path(args.log_dir).resolve() if args.log_dir else None  # before the chdir below
    out.parent.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")

    all_rows, rows_dir = [], out.with_name(f"{out.name}_rows")  # each config's picture row, kept between runs
    for config in args.configs:
        with tempfile.TemporaryDirectory() as tmp:
            root = str(log_dir / config) if log_dir else tmp
            extra_all = [f"--metrics.num_eval_samples={args.num_eval_samples}", *extra]
            cli, wall = train(config, args.steps, args.seed, args.ema, root, extra_all, args.val_every_n_epochs)
            rows = rows_for(config, args.steps, args.seed, wall, score(cli))
            picture = picture_row(cli)
        append_rows(out.with_suffix(".csv"), rows)
        all_rows += rows
        for row in rows:
            print("compare: " + " ".join(f"{k}={row[k]}" for k in FIELDS), flush=True)
        rows_dir.mkdir(exist_ok=True)
        torch.save(picture, rows_dir / f"{config}.pt")
        save_picture(out, rows_dir)  # every variant scored so far, so an interrupted run keeps its picture
    print(f"compare: wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")
    return all_rows


def save_picture(out: Path, rows_dir: Path) -> None:
    """One row of samples per config in the CSV (in its order, each config's latest run), as ``<out>.png``."""
    with open(out.with_suffix(".csv")) as f:
        configs = list(dict.fromkeys(row["config"] for row in csv.DictReader(f)))
    rows = [torch.load(rows_dir / f"{c}.pt") for c in configs if (rows_dir / f"{c}.pt").exists()]
    save_image(make_grid(torch.cat(rows), nrow=len(rows[0]), padding=2, pad_value=1.0), out.with_suffix(".png"))


if __name__ == "__main__":
    run()

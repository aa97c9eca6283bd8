"""Sample quality over training: FID, IS and KID (plus each variant's own measure) every N steps, as CSV and plot.

Run from the repo root: ``python -m benchmarks.quality --config dcgan --steps 300 --every 100 [--out
docs/quality_dcgan]``. It trains through ``lit_gans.cli.main`` with validation every ``--every`` generator steps,
reads the metrics back from the run's TensorBoard event file and writes ``<out>.csv`` and ``<out>.png``.
Any further ``--trainer.*``/``--model.*``/... arguments go to the CLI unchanged, e.g.
``--trainer.limit_val_batches 4`` for a faster, noisier real-image reference. ``--from-logs DIR`` skips training
and draws the CSV and plot from a run that already logged its validations (e.g. one kept by ``compare.py --log-dir``).
"""

import argparse
import csv
import io
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lit_gans.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]  # configs and data/ are found from the repo root
# the generation metrics every variant logs, then InfoGAN's and AC-GAN's own measures (written when logged)
COLUMNS = ["val/fid", "val/is", "val/kid", "val/code_accuracy", "val/sample_accuracy", "val/d_class_accuracy"]
COLUMNS += ["val/wasserstein", "val/code_accuracy_identity"]


def train(configs: list[str], steps: int, every: int, samples: int, root: str, extra: list[str]) -> Path:
    """Fits the configs (a variant and its overlays) for ``steps`` generator steps, validating every ``every``;
    returns the run's log folder."""
    cli = cli_main(
        [
            "fit",
            *[f"--config={config}" for config in configs],
            f"--trainer.max_steps={steps}",
            "--trainer.max_epochs=-1",  # --steps decides, whatever the config's epoch count
            f"--trainer.val_check_interval={every}",  # in batches: one batch per generator step at d_steps 1
            "--trainer.check_val_every_n_epoch=null",  # count batches across epochs, not within one
            f"--metrics.num_eval_samples={samples}",
            f"--trainer.default_root_dir={root}",
            *extra,
        ]
    )
    return Path(cli.trainer.logger.log_dir)


def read_metrics(log_dir: Path) -> tuple[list[str], list[dict]]:
    """(columns present, one row per logged step) from the TensorBoard event file of the run."""
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})  # 0: keep every value
    events.Reload()
    columns = [tag for tag in COLUMNS if tag in events.Tags()["scalars"]]
    rows: dict[int, dict] = {}
    for tag in columns:
        for event in events.Scalars(tag):
            step = event.step  # lit_gans logs validation scalars at the generator step the validation followed
            rows.setdefault(step, {"step": step})[tag] = event.value
    return columns, [rows[step] for step in sorted(rows)]


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> str:
    """Writes the CSV and returns its text (printed too)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["step", *columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(text.getvalue())
    return text.getvalue()


def logged_samples(log_dir: Path) -> int | str:
    """The generated images per validation of a logged run, from the ``config.yaml`` Lightning saved beside it."""
    config = log_dir / "config.yaml"
    if not config.is_file():
        return "?"
    return ((yaml.safe_load(config.read_text()) or {}).get("metrics") or {}).get("num_eval_samples", "?")


def plot(path: Path, columns: list[str], rows: list[dict], title: str) -> None:
    """One panel per metric against the step."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit('quality: the plot needs matplotlib: pip install -e ".[plot]" (the CSV is written)') from None
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3), squeeze=False)
    for ax, column in zip(axes[0], columns, strict=True):
        points = [(row["step"], row[column]) for row in rows if column in row]
        ax.plot(*zip(*points, strict=True), marker="o")
        ax.set_title(column)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(argv: list[str] | None = None) -> dict:
    """Parses ``argv`` (unknown options go to the CLI), trains, writes CSV and PNG; returns what it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", help="a config name in configs/ or a path; repeat for overlays")
    parser.add_argument("--steps", type=int, default=300, help="generator steps to train")
    parser.add_argument("--every", type=int, default=100, help="validate (and measure) every this many steps")
    # 2,000 samples: FID+IS+KID in seconds on a CPU; FID's bias against 10,000 samples is larger, its trend the same
    parser.add_argument("--num-eval-samples", type=int, default=2000)
    parser.add_argument("--out", default=None, help="output path without suffix (default: docs/quality_<config>)")
    parser.add_argument("--root", default=None, help="log folder (default: a temporary folder, deleted after)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's, as users run)")
    parser.add_argument("--from-logs", default=None, help="a run's log folder: plot it, no training")
    args, extra = parser.parse_known_args(argv)
    if args.steps < 1 or not 1 <= args.every <= args.steps:
        parser.error("--steps must be >= 1 and --every in 1..steps")
    if args.threads:  # on a CPU shared with other jobs, 1 thread is slower to disturb than a team of 2
        torch.set_num_threads(args.threads)
    configs = args.config or ["dcgan"]
    name = "+".join(Path(c).stem for c in configs)
    out = Path(args.out or f"docs/quality_{name}").resolve()  # resolved before moving to the repo root
    root_arg = Path(args.root).resolve() if args.root else None
    from_logs = Path(args.from_logs).resolve() if args.from_logs else None
    if from_logs and not list(from_logs.glob("events.out.tfevents.*")):
        parser.error(f"--from-logs {args.from_logs}: no TensorBoard event file there; pass a run's version_N folder")
    os.chdir(ROOT)  # the configs' data_dir is relative to the repo root
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")  # our own argv, not the CLI's

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = root_arg or Path(tmp)
        log_dir = from_logs or train(configs, args.steps, args.every, args.num_eval_samples, str(root), extra)
        columns, rows = read_metrics(log_dir)
    wall = time.perf_counter() - start
    if not rows:
        raise SystemExit(f"quality: no validation metrics in {log_dir}: was validation turned off?")

    samples = logged_samples(from_logs) if from_logs else args.num_eval_samples
    out.parent.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out.with_suffix(".csv"), out.with_suffix(".png")
    print(write_csv(csv_path, columns, rows), end="")
    plot(png_path, columns, rows, f"{name}: {samples} samples per validation")
    last = rows[-1]
    values = " ".join(f"{c.removeprefix('val/')} {last[c]:.4g}" for c in columns if c in last)
    print(f"wrote {csv_path} and {png_path}")
    how = f"read from {from_logs}" if from_logs else f"validation every {args.every} steps"
    trained = "" if from_logs else f"; wall {wall:.0f} s for {args.steps} steps"
    print(f"quality: {name} step {last['step']}: {values} ({samples} samples, {how}){trained}")
    return {"columns": columns, "rows": rows, "csv": csv_path, "png": png_path, "wall_s": wall, "samples": samples}


if __name__ == "__main__":
    run()

"""The 2D toy benchmark (docs/learning.md): GAN, hinge and WGAN-GP on the ring of 8 and the grid of 25 Gaussians over
seeds; modes covered and share of high-quality samples at the last step, mean and spread (the published numbers are
beside them in docs/learning.md).

Run from the repo root on one thread: ``OMP_NUM_THREADS=1 python -m benchmarks.toy [--seeds 0 1 2 3 4] [--losses gan
hinge wgan_gp] [--mixtures ring grid] [--out docs/toy.csv] [--log-dir lightning_logs/toy]``. Each run is
``python -m lit_gans fit --config ring_<loss> [--config grid] --seed_everything <seed>`` through ``lit_gans.cli.main``,
its logs (heat maps, progress strip) kept under ``<log-dir>/<mixture>_<loss>/seed_<seed>``; its measures at the last
validation and the wall time of its ``fit`` are written to the CSV as soon as it finishes (a run done again replaces
its row). Further ``--trainer.*``/``--model.*``/``--data.*`` arguments go to the CLI. ``--summarize CSV`` prints the
table of an existing CSV without training.
"""

import argparse
import csv
import os
import statistics
import time
import warnings
from pathlib import Path

import torch

from lit_gans.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"gan": "ring_gan", "hinge": "ring_hinge", "wgan_gp": "ring_wgan_gp"}  # the loss -> its ring config
OVERLAYS = {"ring": [], "grid": ["grid"]}  # the mixture -> the overlays that select it
MODES = {"ring": 8, "grid": 25}
FIELDS = ["mixture", "loss", "seed", "step", "modes", "high_quality", "wall_s", "threads"]


def fit(mixture: str, loss: str, seed: int, log_dir: Path, extra: list[str]) -> dict:
    """Trains one run; returns its CSV row (the measures of its last validation, the seconds ``fit`` took)."""
    configs = [CONFIGS[loss], *OVERLAYS[mixture]]
    start = time.perf_counter()
    cli = cli_main(
        [
            "fit",
            *[f"--config={config}" for config in configs],
            f"--seed_everything={seed}",
            f"--trainer.default_root_dir={log_dir / f'{mixture}_{loss}' / f'seed_{seed}'}",
            "--trainer.enable_progress_bar=false",
            *extra,
        ]
    )
    wall = time.perf_counter() - start
    measured = cli.trainer.callback_metrics
    if "val/modes" not in measured:
        raise SystemExit(f"toy: {mixture} {loss} seed {seed} logged no val/modes: was validation turned off?")
    return {
        "mixture": mixture,
        "loss": loss,
        "seed": seed,
        "step": cli.trainer.global_step,
        "modes": int(measured["val/modes"]),
        "high_quality": f"{float(measured['val/high_quality']):.4f}",
        "wall_s": f"{wall:.1f}",
        "threads": torch.get_num_threads(),
    }


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def spread(values: list[float]) -> tuple[float, float]:
    """(mean, sample standard deviation; 0 for one value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """Per (mixture, loss): every seed's modes and high-quality %, their mean and spread, printed as a table."""
    summary = {}
    print(
        "| data | loss | seeds | modes: mean ± sd (per seed) | high quality %: mean ± sd (per seed) | wall s: median |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for mixture in dict.fromkeys(row["mixture"] for row in rows):
        for loss in dict.fromkeys(row["loss"] for row in rows if row["mixture"] == mixture):
            mine = sorted(
                (r for r in rows if (r["mixture"], r["loss"]) == (mixture, loss)), key=lambda r: int(r["seed"])
            )
            modes = [int(r["modes"]) for r in mine]
            good = [100 * float(r["high_quality"]) for r in mine]
            wall = statistics.median(float(r["wall_s"]) for r in mine)
            (m_mean, m_sd), (g_mean, g_sd) = spread(modes), spread(good)
            summary[mixture, loss] = {"modes": modes, "high_quality": good, "wall_s": wall}
            per_modes, per_good = " ".join(map(str, modes)), " ".join(f"{g:.1f}" for g in good)
            seeds = ",".join(r["seed"] for r in mine)
            print(
                f"| {mixture} (max {MODES[mixture]}) | {loss} | {seeds} | {m_mean:.1f} ± {m_sd:.1f} ({per_modes}) | "
                f"{g_mean:.1f} ± {g_sd:.1f} ({per_good}) | {wall:.0f} |"
            )
    ring_gan = summary.get(("ring", "gan"))
    headline = f"; the ring GAN's fit took {ring_gan['wall_s']:.0f} s (median)" if ring_gan else ""
    print(f"toy: {len(rows)} runs in {len(summary)} settings{headline}")
    return summary


def run(argv: list[str] | None = None) -> dict:
    """Parses ``argv`` (unknown options go to the CLI), trains every run, writes the CSV; returns the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--losses", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--mixtures", nargs="+", choices=list(OVERLAYS), default=list(OVERLAYS))
    parser.add_argument("--out", default="docs/toy.csv", help="the CSV of every run")
    parser.add_argument("--log-dir", default="lightning_logs/toy", help="each run's logs: LOG_DIR/<mixture>_<loss>")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the toy's own setting: 1)")
    parser.add_argument("--summarize", default=None, metavar="CSV", help="print the table of this CSV; no training")
    args, extra = parser.parse_known_args(argv)
    if args.summarize:
        return summarize(read_csv(Path(args.summarize)))
    torch.set_num_threads(args.threads)
    out, log_dir = Path(args.out).resolve(), Path(args.log_dir).resolve()  # resolved before moving to the repo root
    out.parent.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")  # our own argv, not the CLI's
    for mixture in args.mixtures:
        for loss in args.losses:
            for seed in args.seeds:
                row = fit(mixture, loss, seed, log_dir, extra)
                key = (mixture, loss, str(seed))
                kept = [r for r in read_csv(out) if (r["mixture"], r["loss"], r["seed"]) != key]
                write_csv(out, kept + [row])
                print(f"toy: {mixture} {loss} seed {seed}: {row['modes']} modes, {row['high_quality']} high quality, "
                      f"{row['wall_s']} s")  # fmt: skip
    print(f"toy: wrote {out}")
    rows = [r for r in read_csv(out) if r["mixture"] in args.mixtures and r["loss"] in args.losses]
    return summarize(rows)


if __name__ == "__main__":
    run()

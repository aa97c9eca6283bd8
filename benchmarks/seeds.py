"""One config over several seeds: every validation of every seed as a CSV row, then the median, min and max of a
measure at the last step, with each seed's wall time. A number to count on is a median over seeds, not one run.

Run from the repo root: ``python -m benchmarks.seeds --config infogan --seeds 0 1 2 [--steps 5000] [--every 468]
[--measure val/code_accuracy] [--name NAME] [--out docs/seeds_infogan.csv] [--log-dir lightning_logs/seeds]``.
Each seed is trained through ``lit_gans.cli.main`` (``quality.train``: validation every ``--every`` generator steps
and after the last) with ``--seed_everything`` set; its TensorBoard logs are kept under ``<log-dir>/<name>/seed_<s>``
and its validations are written to the CSV as soon as it finishes (an interrupted run keeps the seeds before it; a
seed run again replaces its own rows). Further ``--trainer.*``/``--model.*``/``--data.*`` arguments go to the CLI,
e.g. ``--data.holdout 5000`` to validate on 5,000 training images held out of training instead of the test split
(a screen that never looks at the test labels), with ``--name`` telling the settings apart in one CSV.
``--summarize CSV`` prints the summary of an existing CSV (every name in it) without training; with ``--rank-by
val/code_mi`` also how well a label-free statistic orders the seeds as the measure does, at every validation step.
"""

import argparse
import csv
import os
import statistics
import time
import warnings
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from benchmarks import quality

ROOT = quality.ROOT
KEYS = ["name", "config", "seed", "step", "wall_s"]  # then every val/ scalar the run logged
# the summary's columns after the measure (those every seed logged), and their decimals
SHOWN = {"val/code_accuracy": 4, "val/code_accuracy_identity": 4, "val/fid": 2, "val/is": 2, "val/kid": 4}


def read_validations(log_dir: Path, start: float) -> list[dict]:
    """One row per validation of a run: its step, the seconds since ``start`` when it was logged, every val/ scalar."""
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})  # 0: keep every value
    events.Reload()
    rows: dict[int, dict] = {}
    for tag in sorted(t for t in events.Tags()["scalars"] if t.startswith("val/")):
        for event in events.Scalars(tag):
            row = rows.setdefault(event.step, {"step": event.step, "wall_s": 0.0})
            row[tag] = event.value
            row["wall_s"] = max(row["wall_s"], event.wall_time - start)
    return [rows[step] for step in sorted(rows)]


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[dict]) -> None:
    """Writes the rows with the union of their columns (runs of different variants log different measures)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    fields = KEYS + sorted(c for c in columns if c not in KEYS)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def summarize(rows: list[dict], measure: str) -> dict[str, dict]:
    """Per name: each seed's last validation, and the median, min and max of ``measure`` over the seeds; printed."""
    summary = {}
    for name in dict.fromkeys(row["name"] for row in rows):
        last = {}
        for row in rows:
            if row["name"] == name and (row["seed"] not in last or int(row["step"]) >= int(last[row["seed"]]["step"])):
                last[row["seed"]] = row
        if any(not row.get(measure) for row in last.values()):
            present = sorted(k for row in last.values() for k, v in row.items() if k.startswith("val/") and v)
            raise SystemExit(f"seeds: {name} has no {measure}; its measures: {', '.join(dict.fromkeys(present))}")
        values = [float(row[measure]) for row in last.values()]
        summary[name] = {"seeds": last, "median": statistics.median(values), "min": min(values), "max": max(values)}
        print_summary(name, measure, summary[name])
    return summary


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (ranks without tie correction: the values are continuous measures)."""
    rank = lambda v: {i: r for r, i in enumerate(sorted(range(len(v)), key=v.__getitem__))}  # noqa: E731
    rx, ry, n = rank(xs), rank(ys), len(xs)
    return 1 - 6 * sum((rx[i] - ry[i]) ** 2 for i in range(n)) / (n * (n * n - 1))


def rank_agreement(rows: list[dict], measure: str, by: str) -> dict[int, float]:
    """Per validation step every seed of a name reached: Spearman's correlation over the seeds between ``by`` (e.g.
    the label-free ``val/code_mi``) and ``measure``. Does the statistic order the runs as the measure does? Printed."""
    result = {}
    for name in dict.fromkeys(row["name"] for row in rows):
        mine = [r for r in rows if r["name"] == name and r.get(by) and r.get(measure)]
        seeds = sorted({r["seed"] for r in mine})
        steps = sorted(set.intersection(*({int(r["step"]) for r in mine if r["seed"] == s} for s in seeds)))
        if len(seeds) < 3:
            raise SystemExit(f"seeds: {name} has {len(seeds)} seeds with {by}; a rank correlation needs 3 or more")
        for step in steps:
            at = {r["seed"]: r for r in mine if int(r["step"]) == step}
            rho = spearman([float(at[s][by]) for s in seeds], [float(at[s][measure]) for s in seeds])
            result[step] = rho
            print(f"seeds: {name} step {step}: Spearman({by}, {measure}) over {len(seeds)} seeds = {rho:+.2f}")
    return result


def print_summary(name: str, measure: str, result: dict) -> None:
    """A markdown table (every seed, then the median of each column) and one line with median, min and max."""
    seeds = result["seeds"]
    shown = [measure, *(c for c in SHOWN if c != measure and all(row.get(c) for row in seeds.values()))]
    print(f"| {name} seed | step | " + " | ".join(c.removeprefix("val/") for c in shown) + " | wall |")
    print("| --- " * (len(shown) + 3) + "|")
    for seed, row in seeds.items():
        values = " | ".join(f"{float(row[c]):.{SHOWN.get(c, 4)}f}" for c in shown)
        print(f"| {seed} | {row['step']} | {values} | {float(row['wall_s']) / 60:.0f} min |")
    medians = [statistics.median(float(row[c]) for row in seeds.values()) for c in shown + ["wall_s"]]
    values = " | ".join(f"{v:.{SHOWN.get(c, 4)}f}" for c, v in zip(shown, medians, strict=False))
    print(f"| median | | {values} | {medians[-1] / 60:.0f} min |")
    steps = sorted({int(row["step"]) for row in seeds.values()})
    print(
        f"seeds: {name} {measure} at step {'/'.join(map(str, steps))} over {len(seeds)} seeds: "
        f"median {result['median']:.4f}, min {result['min']:.4f}, max {result['max']:.4f}"
    )


def run(argv: list[str] | None = None) -> dict[str, dict]:
    """Parses ``argv`` (unknown options go to the CLI), trains every seed, writes the CSV; returns the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", help="a config name in configs/ or a path; repeat for overlays")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=5000, help="generator steps per seed")
    parser.add_argument("--every", type=int, default=468, help="validate every this many steps (468: an epoch)")
    parser.add_argument("--measure", default="val/code_accuracy", help="the val/ scalar summarized over seeds")
    parser.add_argument("--num-eval-samples", type=int, default=10000, help="generated images per FID/IS/KID")
    parser.add_argument("--name", default=None, help="the setting's name in the CSV (default: the config's)")
    parser.add_argument("--out", default=None, help="the CSV (default: docs/seeds_<name>.csv)")
    parser.add_argument("--log-dir", default="lightning_logs/seeds", help="each seed's logs: LOG_DIR/<name>/seed_<s>")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--summarize", default=None, metavar="CSV", help="summarize this CSV; no training")
    parser.add_argument("--rank-by", default=None, metavar="STAT", help="with --summarize: rank agreement of STAT")
    args, extra = parser.parse_known_args(argv)
    if args.summarize:
        rows = read_csv(Path(args.summarize))
        summary = summarize(rows, args.measure)
        if args.rank_by:
            summary["rank_agreement"] = rank_agreement(rows, args.measure, args.rank_by)
        return summary
    if args.steps < 1 or not 1 <= args.every <= args.steps:
        parser.error("--steps must be >= 1 and --every in 1..steps")
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = args.config or ["infogan"]
    name = args.name or "+".join(Path(c).stem for c in configs)
    out = Path(args.out or f"docs/seeds_{name}.csv").resolve()  # resolved before moving to the repo root
    log_dir = Path(args.log_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)  # the configs' data_dir is relative to the repo root
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")  # our own argv, not the CLI's

    for seed in args.seeds:
        root = log_dir / name / f"seed_{seed}"
        start = time.time()
        run_dir = quality.train(
            configs, args.steps, args.every, args.num_eval_samples, str(root), [f"--seed_everything={seed}", *extra]
        )
        rows = [
            {"name": name, "config": "+".join(configs), "seed": seed, **row} for row in read_validations(run_dir, start)
        ]
        if not rows:
            raise SystemExit(f"seeds: no validation metrics in {run_dir}: was validation turned off?")
        rows[-1]["wall_s"] = time.time() - start  # the whole run, to the end of its last validation
        for row in rows:
            row["wall_s"] = f"{row['wall_s']:.0f}"
        kept = [r for r in read_csv(out) if (r["name"], r["seed"]) != (name, str(seed))]  # a rerun replaces its rows
        write_rows(out, kept + rows)
        print(f"seeds: {name} seed {seed}: {len(rows)} validations in {rows[-1]['wall_s']} s, logs in {run_dir}")
    print(f"seeds: wrote {out}")
    return summarize([r for r in read_csv(out) if r["name"] == name], args.measure)


if __name__ == "__main__":
    run()

"""One repetition of choosing an InfoGAN run without labels, as a user would run it: K short runs of one config,
select.py's pick among them, the pick continued to the full budget. Its rows go to a CSV beside the seeds' baseline.

Run from the repo root: ``python -m benchmarks.select_repeat --config infogan --seeds 30 31 32 33 --select-step 2340
--steps 5000 --threads 1 --name select_k4 --out docs/select_repeat.csv``.

Each seed trains to ``--select-step`` (``benchmarks.seeds``' training: validation every ``--every`` steps, on the test
split unless ``--data.holdout`` is given; the rule never reads it). select.py then reads Q's codes on real training
images, no label, and names the run whose clustering agrees most with the others'; that run resumes from its
``last.ckpt`` to ``--steps`` (a resumed run trains the same weights as one that never stopped:
tests/test_reliability.py). The CSV gets every validation of every run (``phase`` short or continued, ``picked``
1 for the run continued) and each phase's wall time, so one repetition's CPU time stands beside a single run's; it is
written as each run finishes, so a repetition stopped part way keeps the runs it finished.
Repetitions are independent: run two side by side at one thread each, with their own ``--seeds`` and ``--out``.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import torch

from benchmarks import quality, seeds, select


def run(argv: list[str] | None = None) -> dict:
    """Parses ``argv`` (unknown options go to the CLI), trains, selects, continues; returns the pick and its rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", help="a config name in configs/ or a path; repeat for overlays")
    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="the K short runs' seeds (K >= 3)")
    parser.add_argument("--select-step", type=int, default=2340, help="the step the K runs train to before the pick")
    parser.add_argument("--steps", type=int, default=5000, help="the step the pick is continued to")
    parser.add_argument("--every", type=int, default=468, help="validate every this many steps")
    parser.add_argument("--num-eval-samples", type=int, default=10000, help="generated images per FID/IS/KID")
    parser.add_argument("--images", type=int, default=10000, help="real training images select.py reads")
    parser.add_argument("--name", default="select", help="this repetition's name in the CSV")
    parser.add_argument("--out", default="docs/select_repeat.csv", help="the CSV (rows of other names are kept)")
    parser.add_argument("--log-dir", default="lightning_logs/select", help="runs' logs: LOG_DIR/<name>/seed_<s>")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args, extra = parser.parse_known_args(argv)
    if len(args.seeds) < 3:
        parser.error("give at least 3 --seeds: with 2 runs there is no medoid")
    if not 1 <= args.select_step < args.steps or not 1 <= args.every <= args.select_step:
        parser.error("need 1 <= --every <= --select-step < --steps")
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = args.config or ["infogan"]
    out, log_dir = Path(args.out).resolve(), Path(args.log_dir).resolve()  # resolved before moving to the repo root
    out.parent.mkdir(parents=True, exist_ok=True)
    os.chdir(quality.ROOT)
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")

    def train(seed: int, steps: int, phase: str, more: list[str]) -> tuple[Path, list[dict]]:
        start = time.time()
        root = log_dir / args.name / f"seed_{seed}"
        run_dir = quality.train(configs, steps, args.every, args.num_eval_samples, str(root),
                                [f"--seed_everything={seed}", *extra, *more])  # fmt: skip
        rows = seeds.read_validations(run_dir, start)
        rows[-1]["wall_s"] = time.time() - start  # the whole phase, to the end of its last validation
        meta = {"name": args.name, "config": "+".join(configs), "seed": seed, "phase": phase, "picked": 0}
        return run_dir, [{**meta, **row, "wall_s": f"{row['wall_s']:.0f}"} for row in rows]

    kept = [r for r in seeds.read_csv(out) if r["name"] != args.name]  # a repetition run again replaces its rows
    runs, rows = [], []
    for seed in args.seeds:
        run_dir, short = train(seed, args.select_step, "short", [])
        runs.append(run_dir / "checkpoints" / "last.ckpt")
        rows += short
        seeds.write_rows(out, kept + rows)  # each run's rows as it finishes: a stopped repetition keeps its runs
        print(f"select_repeat: seed {seed} at step {args.select_step} in {short[-1]['wall_s']} s")
    pick = select.run([*(str(p) for p in runs), "--images", str(args.images)])
    for row in rows:
        row["picked"] = int(row["seed"] == args.seeds[pick])
    _, continued = train(args.seeds[pick], args.steps, "continued", [f"--ckpt_path={runs[pick]}"])
    rows += [{**row, "picked": 1} for row in continued]
    seeds.write_rows(out, kept + rows)
    last = continued[-1]
    print(f"select_repeat: {args.name}: continued seed {args.seeds[pick]} to step {last['step']}: "
          f"val/code_accuracy {float(last.get('val/code_accuracy', float('nan'))):.4f}; wrote {out}")  # fmt: skip
    return {"pick": args.seeds[pick], "rows": rows}


if __name__ == "__main__":
    run()

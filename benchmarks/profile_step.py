"""Where a training step's time goes: the Trainer path against the plain loop, and what the Trainer adds.

Run from the repo root: ``python -m benchmarks.profile_step [--variant gan] [--steps 300] [--repeats 3] [--top 15]``.

1. Timing, no profiler: Trainer and plain runs of ``benchmarks/throughput.py`` alternate (A/B/A/B), and the median
   ms/step of each arm and of their difference is printed (on a shared CPU read the difference, not the absolutes).
2. Breakdown: one more Trainer run under Python's cProfile (process CPU time, so a shared CPU's preemptions are
   not charged to whatever function was running), steady state only. The contributors the Trainer adds
   (Lightning's hooks, the progress bar, requires_grad toggling, finiteness checks, logging, callbacks) are summed
   per step; then the top Lightning / lit_gans / tqdm functions by cumulative time. cProfile slows Python code more
   than the C++ kernels, so read the breakdown as shares of the overhead, and the timing above as its size.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from benchmarks import throughput

HERE = Path(__file__).resolve().parent


# the contributors the issue names, as (label, [(file fragment, function name), ...]): cumulative time, per step
BUCKETS = [
    ("training_step (the model's own work)", [("lit_gans/models/", "training_step")]),
    ("  of which optimizer.step wrappers", [("lightning/pytorch/core/optimizer.py", "step")]),
    ("  of which torch optimizer steps", [("torch/optim/adam.py", "step")]),
    ("  of which manual_backward wrappers", [("lightning/pytorch/core/module.py", "manual_backward")]),
    ("  of which autograd backward", [("torch/autograd/__init__.py", "backward")]),
    ("  of which toggle/untoggle requires_grad", [("", "toggle_optimizer"), ("", "untoggle_optimizer")]),
    ("  of which finiteness checks", [("lit_gans/models/base.py", "queue_finite_check")]),
    ("  of which finish_step (checks, logging)", [("lit_gans/models/base.py", "finish_step")]),
    ("  of which self.optimizers()", [("lit_gans/models/base.py", "optimizers_counting_g_steps")]),
    (
        "progress bar (on_train_batch_end)",
        [("progress/", "on_train_batch_end"), ("callbacks/progress.py", "on_train_batch_end")],
    ),
    ("logger connector (per-step metrics)", [("logger_connector.py", "update_train_step_metrics")]),
    ("checkpoint callback (per batch)", [("model_checkpoint.py", "on_train_batch_end")]),
    ("image callback (per batch)", [("lit_gans/callbacks/pictures.py", "on_train_batch_end")]),
    ("next batch", [("loops/fetchers.py", "__next__")]),
    ("batch transfer to device", [("strategies/strategy.py", "batch_to_device")]),
    ("all callback hooks", [("trainer/call.py", "_call_callback_hooks")]),
]
OWN_CODE = ("lightning/", "lit_gans/", "tqdm/")


def per_step(stats: pstats.Stats, matches, steps: int) -> float:
    """Cumulative ms per step of the functions matching a (file fragment, name) pair: summed over names, and the
    outermost of same-named ones (a wrapper calling its namesake) so nothing counts twice."""
    by_name: dict[str, float] = {}
    for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if any(fragment in file and name == want for fragment, want in matches):
            by_name[name] = max(by_name.get(name, 0.0), ct)
    return sum(by_name.values()) / steps * 1e3


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="gan", choices=("gan", "dcgan", "infogan", "acgan"))
    parser.add_argument("--steps", type=int, default=300, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per arm, interleaved")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--top", type=int, default=15, help="functions listed by cumulative time")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--trainer-args", nargs="*", default=[], help="extra CLI arguments for the Trainer arm")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.chdir(throughput.ROOT)
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
    print(throughput.header(argparse.Namespace(batch_size=args.batch_size, warmup=args.warmup, repeats=args.repeats)))
    extra = list(args.trainer_args)

    with tempfile.TemporaryDirectory() as root:
        trainer_ms, plain_ms = [], []
        for _ in range(args.repeats):
            rate, cli, timer = throughput.run_trainer(
                args.variant, args.steps, args.warmup, args.batch_size, root, extra
            )
            trainer_ms.append(args.batch_size / rate * 1e3)
            rate, _ = throughput.run_plain(cli, args.steps, args.warmup, timer)
            plain_ms.append(args.batch_size / rate * 1e3)
        extra_ms = [t - p for t, p in zip(trainer_ms, plain_ms, strict=True)]

        profiler = cProfile.Profile(time.process_time)  # CPU time: other jobs' preemptions are not counted
        throughput.StepTimer.profiler = profiler  # the timer switches it on and off around the timed window
        try:
            throughput.run_trainer(args.variant, args.steps, args.warmup, args.batch_size, root, extra)
        finally:
            throughput.StepTimer.profiler = None
    stats = pstats.Stats(profiler)

    print(f"\n{args.variant}, {args.steps} steps, batch {args.batch_size}: ms/step, median of {args.repeats} (runs)")
    for label, values in (("Trainer", trainer_ms), ("plain loop", plain_ms), ("extra (Trainer - plain)", extra_ms)):
        print(f"  {label:<26} {statistics.median(values):8.2f}   ({' '.join(f'{v:.2f}' for v in values)})")
    print("\nbreakdown under cProfile (ms/step; cProfile inflates Python code, compare shares, not sizes):")
    breakdown = {label: per_step(stats, matches, args.steps) for label, matches in BUCKETS}
    for label, ms in breakdown.items():
        print(f"  {label:<42} {ms:8.3f}")
    print(f"\ntop {args.top} Lightning / lit_gans / tqdm functions by cumulative ms/step under cProfile:")
    own = [
        (ct, file, line, name)
        for (file, line, name), (_c, _n, _t, ct, _) in stats.stats.items()
        if any(part in file for part in OWN_CODE)
    ]
    for ct, file, line, name in sorted(own, reverse=True)[: args.top]:
        short = file.split("site-packages/")[-1].split("wt-14/")[-1]
        print(f"  {ct / args.steps * 1e3:8.3f}  {name}  ({short}:{line})")
    print(
        f"profile_step: {args.variant} extra ms/step median {statistics.median(extra_ms):.2f} "
        f"(spread {min(extra_ms):.2f} .. {max(extra_ms):.2f}); Trainer {statistics.median(trainer_ms):.2f}, "
        f"plain {statistics.median(plain_ms):.2f} ms/step"
    )
    return {"trainer_ms": trainer_ms, "plain_ms": plain_ms, "extra_ms": extra_ms, "breakdown": breakdown}


if __name__ == "__main__":
    run()

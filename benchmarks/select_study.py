"""How often select.py's label-free choice picks an InfoGAN run that keeps every digit apart, and from which step on.

Run from the repo root on N short runs of one config, each with ``--data.holdout`` and a checkpoint kept at every
validation (the commands are in docs/results.md), e.g.
``python -m benchmarks.select_study lightning_logs/seeds/select/seed_* --k 3 4 5 --out docs/select_study.csv``.

The rule sees what select.py sees: Q's codes on the first ``--images`` training images, no label. Each run is judged
afterwards, with labels, on its own held-out slice (the ``--data.holdout`` images its seed took out of training) at
its last kept step, where the chosen run would be continued from: its code accuracy (best mapping) and the digits it
merges (under 80% of a digit in its own value, as benchmarks/merges.py names them). For every kept step and every K,
over all K-subsets of the N runs, it prints how often the pick merges no digit, against a pick at random (the share of
unmerged runs in the subset, averaged) and the pick by the highest ``val/code_mi`` on the same images; and the picks'
mean accuracy against the subsets' mean and best.
"""

import argparse
import csv
import itertools
import re
from pathlib import Path

import torch

from benchmarks.merges import confusion, merged_classes, read_codes
from benchmarks.seeds import spearman
from benchmarks.select import centrality, q_probabilities
from lit_gans.data import SHIPPED, load_split, split_holdout
from lit_gans.measures import best_map_accuracy, code_mutual_information
from lit_gans.models import InfoGAN


def checkpoints(run: Path) -> dict[int, Path]:
    """{generator step: checkpoint} of one run's folder, each step read from the checkpoint itself (memory-mapped)."""
    found = {}
    for path in sorted(run.rglob("*.ckpt")):
        found[int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])] = path
    return found


def seed_of(run: Path) -> int:
    """The seed of a ``benchmarks.seeds`` run folder (``.../seed_<s>``): it chose the run's held-out slice."""
    match = re.search(r"seed_(\d+)", run.name)
    if not match:
        raise SystemExit(f"select_study: {run} is not a benchmarks.seeds run folder (named seed_<s>)")
    return int(match.group(1))


def read_run(run: Path, steps: list[int], images: torch.Tensor, all_images, all_labels, holdout: int) -> dict:
    """One run at every step: codes and code_mi on the rule's images; accuracy and merges on its held-out slice."""
    held = split_holdout(len(all_labels), holdout, seed_of(run))[1]
    found, out = checkpoints(run), {"seed": seed_of(run), "codes": {}, "mi": {}, "accuracy": {}, "merged": {}}
    for step in steps:
        model = InfoGAN.load_from_checkpoint(found[step], map_location="cpu", weights_only=True).eval()
        out["codes"][step] = read_codes(model, images)
        out["mi"][step] = code_mutual_information(q_probabilities(model, images))
        counts = confusion(read_codes(model, all_images[held]), all_labels[held], model.hparams.categorical[0])
        out["accuracy"][step] = best_map_accuracy(counts)
        out["merged"][step] = merged_classes(counts)
    return out


def study(runs: list[dict], steps: list[int], ks: list[int]) -> list[dict]:
    """One row per (step, K): how the medoid pick, a random pick and the code_mi pick fare over every K-subset,
    judged by each run's state at the last step."""
    last = steps[-1]
    unmerged = [not r["merged"][last] for r in runs]
    accuracy = [r["accuracy"][last] for r in runs]
    rows = []
    for step in steps:
        matrix, _ = centrality([r["codes"][step] for r in runs])  # every pair once; subsets read their block
        for k in ks:
            picks, mi_picks, subsets = [], [], list(itertools.combinations(range(len(runs)), k))
            for subset in subsets:
                block = matrix[list(subset)][:, list(subset)]
                picks.append(subset[int(((block.sum(dim=1) - 1) / (k - 1)).argmax())])
                mi_picks.append(max(subset, key=lambda i: runs[i]["mi"][step]))
            mean = lambda values: sum(values) / len(values)  # noqa: E731
            rows.append({
                "step": step, "k": k, "subsets": len(subsets),
                "pick_unmerged": mean([unmerged[i] for i in picks]),
                "random_unmerged": mean([mean([unmerged[i] for i in s]) for s in subsets]),
                "mi_pick_unmerged": mean([unmerged[i] for i in mi_picks]),
                "pick_accuracy": mean([accuracy[i] for i in picks]),
                "mi_pick_accuracy": mean([accuracy[i] for i in mi_picks]),
                "subset_mean_accuracy": mean([mean([accuracy[i] for i in s]) for s in subsets]),
                "subset_best_accuracy": mean([max(accuracy[i] for i in s) for s in subsets]),
            })  # fmt: skip
    return rows


def run(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="the N run folders (benchmarks.seeds' .../seed_<s>)")
    parser.add_argument("--k", type=int, nargs="+", default=[3, 4], help="how many runs the rule chooses among")
    parser.add_argument("--images", type=int, default=10000, help="real training images the rule reads (no labels)")
    parser.add_argument("--holdout", type=int, default=5000, help="the runs' --data.holdout")
    parser.add_argument("--out", type=Path, help="also write each run's numbers at every step to this CSV")
    args = parser.parse_args(argv)
    if any(not 3 <= k <= len(args.runs) for k in args.k):
        parser.error(f"every --k must be in 3..{len(args.runs)} (the runs given): with 2 there is no medoid")
    kept = [set(checkpoints(r)) for r in args.runs]
    steps = sorted(set.intersection(*kept))
    if not steps:
        raise SystemExit("select_study: no step has a checkpoint in every run; train with --checkpoint.save_top_k -1")
    all_images, all_labels = load_split(SHIPPED, train=True)
    images = all_images[: args.images]  # as select.py: no labels
    runs = [read_run(r, steps, images, all_images, all_labels, args.holdout) for r in args.runs]

    print(f"{len(runs)} runs at steps {steps}; judged at step {steps[-1]} on each run's {args.holdout} held-out images")
    for r in runs:
        print(f"  seed {r['seed']}: accuracy " + " ".join(f"{r['accuracy'][s]:.3f}" for s in steps)
              + f"  merged at {steps[-1]}: {r['merged'][steps[-1]] or 'none'}")  # fmt: skip
    rows = study(runs, steps, args.k)
    print("| step | K | subsets | unmerged: pick | random | code_mi pick "
          "| accuracy: pick | code_mi pick | subsets' mean | best |")  # fmt: skip
    print("| --- " * 10 + "|")
    for row in rows:
        print(f"| {row['step']} | {row['k']} | {row['subsets']} | {row['pick_unmerged']:.2f} | "
              f"{row['random_unmerged']:.2f} | {row['mi_pick_unmerged']:.2f} | {row['pick_accuracy']:.4f} | "
              f"{row['mi_pick_accuracy']:.4f} | {row['subset_mean_accuracy']:.4f} | "
              f"{row['subset_best_accuracy']:.4f} |")  # fmt: skip
    last = steps[-1]
    judged = [r["accuracy"][last] for r in runs]
    mean_nmi = {step: centrality([r["codes"][step] for r in runs])[1].tolist() for step in steps}  # once per step
    for step in steps:  # do the label-free numbers order all N runs as their accuracy at the last step does?
        by_nmi, by_mi = spearman(mean_nmi[step], judged), spearman([r["mi"][step] for r in runs], judged)
        print(f"step {step}: Spearman over the {len(runs)} runs with the accuracy at {last}: "
              f"mean NMI {by_nmi:+.2f}, code_mi {by_mi:+.2f}")  # fmt: skip
    if args.out:
        with args.out.open("w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["seed", "step", "accuracy", "merged", "code_mi", "mean_nmi"])
            for step in steps:
                for r, m in zip(runs, mean_nmi[step], strict=True):
                    merged = " ".join(map(str, r["merged"][step]))
                    writer.writerow([r["seed"], step, f"{r['accuracy'][step]:.4f}", merged, f"{r['mi'][step]:.4f}",
                                     f"{m:.4f}"])  # fmt: skip
    return rows


if __name__ == "__main__":
    run()

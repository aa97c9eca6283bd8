"""A run's training curves in one picture: D(x) and D(G(z)), the losses, and the variant's own terms (InfoGAN's Q,
AC-GAN's class loss), read from its TensorBoard logs; the pictures of docs/what_to_expect.md.

Run from the repo root: ``python -m benchmarks.curves LOG_DIR [LOG_DIR ...] --out docs/curves_infogan.png
[--title "InfoGAN, seed 3"]``, LOG_DIR being a run's ``lightning_logs/version_N``. Several folders draw one row each.
It prints, per run, each quantity's mean over the first and the last tenth of the run: what a healthy run's numbers
drift to.
"""

import argparse
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

PANELS = [  # (title, tags, y-limits or None): what each panel of a row shows when the run logged it
    ("D's outputs (probability)", ["D(x)", "D(G(z))"], (0, 1)),
    ("losses", ["loss/d", "loss/g", "loss/d_class"], None),
    ("InfoGAN's information terms", ["info/cat_mi_lower_bound", "info/cont_nll", "info/label_ce"], None),
]


def scalars(log_dir: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Every training scalar of a run: tag -> (steps, values)."""
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    out = {}
    for tag in events.Tags()["scalars"]:
        points = events.Scalars(tag)
        out[tag] = ([p.step for p in points], [p.value for p in points])
    return out


def smooth(values: list[float]) -> list[float]:
    """TensorBoard's smoothing, an exponential moving average, so a curve's trend shows through its noise; its weight
    shrinks with the number of points (none under 20), so that a short run's curve does not lag its own points."""
    weight = max(0.0, min(0.9, 1 - 20 / max(len(values), 1)))
    out, last = [], values[0] if values else 0.0
    for value in values:
        last = weight * last + (1 - weight) * value
        out.append(last)
    return out


def summary(runs: dict[str, dict]) -> list[str]:
    lines = []
    for name, tags in runs.items():
        for tag, (_, values) in sorted(tags.items()):
            if tag.startswith("val/") or tag in ("epoch", "step") or len(values) < 10:
                continue
            tenth = max(1, len(values) // 10)
            first, last = sum(values[:tenth]) / tenth, sum(values[-tenth:]) / tenth
            lines.append(f"{name}: {tag} first tenth {first:.3f}, last tenth {last:.3f}")
    return lines


def draw(runs: dict[str, dict], out: Path, titles: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in PANELS if any(tag in tags for tags in runs.values() for tag in p[1])]
    fig, axes = plt.subplots(len(runs), len(panels), figsize=(4.2 * len(panels), 2.9 * len(runs)), squeeze=False)
    for row, (tags, title) in enumerate(zip(runs.values(), titles, strict=True)):
        for col, (panel, wanted, limits) in enumerate(panels):
            ax = axes[row][col]
            for tag in wanted:
                if tag in tags:
                    steps, values = tags[tag]
                    line = ax.plot(steps, values, alpha=0.25, linewidth=0.8)[0]
                    ax.plot(steps, smooth(values), color=line.get_color(), label=tag, linewidth=1.4)
            if limits:
                ax.set_ylim(*limits)
            ax.set_title(f"{title}: {panel}" if col == 0 else panel, fontsize=9)
            ax.set_xlabel("generator step", fontsize=8)
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=80)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log_dirs", nargs="+", type=Path, help="runs' lightning_logs/version_N folders")
    parser.add_argument("--out", type=Path, help="the PNG to write (none: print the summary only)")
    parser.add_argument("--title", action="append", help="a title per run (default: its folder)")
    args = parser.parse_args(argv)
    titles = args.title or [str(d) for d in args.log_dirs]
    if len(titles) != len(args.log_dirs):
        parser.error("give one --title per log folder, or none")
    runs = {str(d): scalars(d) for d in args.log_dirs}
    for line in summary(runs):
        print(line)
    if args.out:
        draw(runs, args.out, titles)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Which classes an InfoGAN run's categorical code keeps apart and which it merges, from a checkpoint.

Run from the repo root: ``python -m benchmarks.merges lightning_logs/version_0/checkpoints/last.ckpt
[--dataset mnist] [--split test]``. Q's first categorical head reads every image of the split; each class is
printed with the code value the best one-to-one mapping gives it (InfoGAN's measure, ``val/code_accuracy``), the
share of the class that lands there and the class's other large code values. A class under ``--merged`` (0.8) of
its mapped value is named as merged, with the class it shares its values with: the usual InfoGAN failure on MNIST
is 4 and 9 (or 7 and 9) drawn from one code value, told apart only by a continuous code. For each merged class, the
mean slant of its images in each of its values follows: what G splits the class by, where it does not split by class.
"""

import argparse

import torch
from torchmetrics.functional.classification import multiclass_confusion_matrix

from lit_gans.data import DATASETS, default_data_dir, load_split, to_unit_range
from lit_gans.errors import LitGansError
from lit_gans.measures import best_map_accuracy
from lit_gans.models import InfoGAN


@torch.no_grad()
def read_codes(model: InfoGAN, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Q's most likely first-code value for each image (uint8 [N, 28, 28])."""
    model.eval()
    codes = []
    for start in range(0, len(images), batch):
        _, h = model.discriminator(to_unit_range(images[start : start + batch]))
        codes.append(model.discriminator.q(h)[0][0].argmax(dim=1))
    return torch.cat(codes)


def confusion(codes: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """(classes, code values) counts of the images' code values (of ``k``) by their labels."""
    return multiclass_confusion_matrix(codes, labels, num_classes=max(k, int(labels.max()) + 1))[:, :k]


def slant(images: torch.Tensor) -> torch.Tensor:
    """Each image's slant (uint8 [N, H, W]): how many pixels its ink moves right per row up (the regression of x on
    y, weighted by ink), so > 0 leans right as italic writing does; 0.36 is a 20-degree lean."""
    ink = images.float()
    y, x = torch.meshgrid(*(torch.arange(n, dtype=torch.float32) for n in ink.shape[-2:]), indexing="ij")
    total = ink.sum(dim=(1, 2)).clamp(min=1e-6)
    dx = x - (ink * x).sum(dim=(1, 2))[:, None, None] / total[:, None, None]
    dy = y - (ink * y).sum(dim=(1, 2))[:, None, None] / total[:, None, None]
    return -(ink * dx * dy).sum(dim=(1, 2)) / (ink * dy * dy).sum(dim=(1, 2)).clamp(min=1e-6)


def slant_lines(images: torch.Tensor, labels: torch.Tensor, codes: torch.Tensor, classes: list[int]) -> list[str]:
    """For each class given, the mean slant of its images in each code value holding >= 10% of them."""
    lines = []
    for c in classes:
        mine = labels == c
        values = [v for v in codes[mine].unique().tolist() if (codes[mine] == v).sum() >= 0.1 * mine.sum()]
        parts = [f"value {v} {slant(images[mine & (codes == v)]).mean():+.2f} ({int((mine & (codes == v)).sum())})"
                 for v in values]  # fmt: skip
        lines.append(f"slant of class {c}: {', '.join(parts)}; all of class {c}: {slant(images[mine]).mean():+.2f}")
    return lines


def mapping(counts: torch.Tensor) -> tuple[dict[int, int], torch.Tensor]:
    """({class: its code value under the best one-to-one mapping}, each class's share in each value)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(counts.double().numpy(), maximize=True)
    shares = counts.double() / counts.sum(dim=1, keepdim=True).clamp(min=1)
    return dict(zip(rows.tolist(), cols.tolist(), strict=True)), shares


def merged_classes(counts: torch.Tensor, merged: float = 0.8) -> list[int]:
    """The classes that keep under ``merged`` of their images in their own value (what ``report`` names merged)."""
    mapped, shares = mapping(counts)
    return [c for c in range(counts.shape[0]) if (shares[c, mapped[c]].item() if c in mapped else 0.0) < merged]


def report(counts: torch.Tensor, merged: float = 0.8, about_merged=None) -> list[str]:
    """One line per class (its mapped value, share there, other values holding >= 10% of it), then the merges, then
    what ``about_merged`` (a function of the merged classes' list, returning lines) says of them."""
    mapped, shares = mapping(counts)
    lines, weak = [], []
    for c in range(counts.shape[0]):
        share = shares[c, mapped[c]].item() if c in mapped else 0.0
        others = [f"{v} {shares[c, v]:.0%}" for v in shares[c].argsort(descending=True).tolist()
                  if v != mapped.get(c) and shares[c, v] >= 0.1]  # fmt: skip
        also = f"; also {', '.join(others)}" if others else ""
        lines.append(f"class {c}: value {mapped.get(c, '-')} {share:.0%}{also}")
        if share < merged:
            weak.append((c, share))
    for c, share in weak:  # the class that takes the most of c's images outside c's own value
        rest = counts[:, [v for v in range(counts.shape[1]) if shares[c, v] >= 0.1 and v != mapped.get(c)]].sum(dim=1)
        rest[c] = -1
        partner = int(rest.argmax()) if rest.numel() and rest.max() > 0 else None
        lines.append(f"merged: class {c} keeps {share:.0%} of its images in its value"
                     + (f", shares its other values with class {partner}" if partner is not None else ""))  # fmt: skip
    accuracy = best_map_accuracy(counts)
    lines.append(f"best-mapping accuracy {accuracy:.4f}; {len(weak)} of {counts.shape[0]} classes under {merged:.0%}")
    return lines + (about_merged([c for c, _ in weak]) if about_merged else [])


def run(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", help="an InfoGAN checkpoint (.ckpt)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    parser.add_argument("--data-dir", default=None, help="the folder holding <MNIST|FashionMNIST>/raw")
    parser.add_argument("--split", choices=["test", "train"], default="test")
    parser.add_argument("--merged", type=float, default=0.8, help="a class under this share of its value is merged")
    args = parser.parse_args(argv)
    folder = DATASETS[args.dataset].__name__
    try:
        model = InfoGAN.load_from_checkpoint(args.ckpt, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, RuntimeError, KeyError, TypeError) as err:
        raise SystemExit(f"merges: {args.ckpt} is not an InfoGAN checkpoint ({type(err).__name__}); pass a .ckpt "
                         f"that an InfoGAN run wrote under lightning_logs/version_N/checkpoints") from None  # fmt: skip
    try:
        data_dir = args.data_dir or default_data_dir(folder)
        images, labels = load_split(data_dir, args.split == "train", folder)
    except (FileNotFoundError, LitGansError) as err:
        raise SystemExit(f"merges: {err}; pass --data-dir, the folder holding {folder}/raw") from None
    codes = read_codes(model, images)
    counts = confusion(codes, labels, model.hparams.categorical[0])
    lines = report(counts, args.merged, lambda merged: slant_lines(images, labels, codes, merged))
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    run()

"""Which of K InfoGAN runs of one config to continue, chosen without labels: the run whose clustering of real images
agrees most with the other runs' (InfoGAN-CR's ModelCentrality: keep the medoid).

Run from the repo root: ``python -m benchmarks.select RUN1.ckpt RUN2.ckpt ... [--images 10000] [--holdout-seed S]``.
Q's first categorical head reads the same real images in every run (the first ``--images`` of the training split, or
with ``--holdout-seed`` the held-out slice a ``--data.holdout`` run of that seed validated on); no label is read. Each
pair of runs is compared by the normalised mutual information of their code assignments (NMI: 1 = the same partition
up to renaming, 0 = independent). Merged runs merge different pairs of digits (4/9, 7/9), so they agree less with the
others than runs that keep every digit apart do. It prints the NMI matrix, each run's mean NMI to the others, each
run's label-free ``val/code_mi`` on the same images for comparison, and the run to continue, with its reason. Whether
the rule picks unmerged runs, and at which step, is measured in docs/results.md.
"""

import argparse
import math

import torch

from benchmarks.merges import read_codes
from lit_gans.data import SHIPPED, load_split, split_holdout
from lit_gans.measures import code_mutual_information
from lit_gans.models import InfoGAN


def nmi(a: torch.Tensor, b: torch.Tensor) -> float:
    """Normalised mutual information of two labelings of the same items, I(a; b) / sqrt(H(a) H(b)) (Strehl & Ghosh)."""
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    joint = torch.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).double() / len(a)
    pa, pb = joint.sum(dim=1), joint.sum(dim=0)
    nonzero = joint > 0
    mutual = (joint[nonzero] * (joint[nonzero] / (pa[:, None] * pb[None, :])[nonzero]).log()).sum().item()
    ha = -(pa[pa > 0] * pa[pa > 0].log()).sum().item()
    hb = -(pb[pb > 0] * pb[pb > 0].log()).sum().item()
    return mutual / math.sqrt(ha * hb) if ha > 0 and hb > 0 else 0.0


def centrality(codes: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(K x K NMI matrix, each run's mean NMI to the other runs)."""
    k = len(codes)
    matrix = torch.eye(k, dtype=torch.float64)
    for i in range(k):
        for j in range(i + 1, k):
            matrix[i, j] = matrix[j, i] = nmi(codes[i], codes[j])
    return matrix, (matrix.sum(dim=1) - 1) / max(k - 1, 1)


@torch.no_grad()
def q_probabilities(model: InfoGAN, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Q's first-code probabilities on uint8 images (what ``val/code_mi`` averages)."""
    from lit_gans.data import to_unit_range

    out = []
    for start in range(0, len(images), batch):
        _, h = model.discriminator(to_unit_range(images[start : start + batch]))
        out.append(model.discriminator.q(h)[0][0].float().softmax(dim=1))
    return torch.cat(out)


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpts", nargs="+", help="the K runs' checkpoints, at the same step")
    parser.add_argument("--images", type=int, default=10000, help="real training images read (no labels)")
    parser.add_argument("--holdout-seed", type=int, help="read the held-out slice of a --data.holdout run instead")
    parser.add_argument("--holdout", type=int, default=5000, help="its size (--data.holdout)")
    args = parser.parse_args(argv)
    if len(args.ckpts) < 3:
        parser.error("give at least 3 runs: with 2 there is no medoid")
    images, _ = load_split(SHIPPED, train=True)  # labels are not used
    if args.holdout_seed is not None:
        images = images[split_holdout(len(images), args.holdout, args.holdout_seed)[1]]
    else:
        images = images[: args.images]
    codes, mi = [], []
    for path in args.ckpts:
        model = InfoGAN.load_from_checkpoint(path, map_location="cpu", weights_only=True).eval()
        codes.append(read_codes(model, images))
        mi.append(code_mutual_information(q_probabilities(model, images)))
    matrix, mean = centrality(codes)
    print(f"NMI of Q's code assignments on {len(images)} real images, run by run:")
    for i, path in enumerate(args.ckpts):
        row = " ".join(f"{v:.3f}" for v in matrix[i].tolist())
        print(f"  run {i} {row}  mean to the others {mean[i]:.3f}  code_mi {mi[i]:.3f}  {path}")
    pick = int(mean.argmax())
    second = mean.clone()
    second[pick] = -1
    print(f"continue run {pick} ({args.ckpts[pick]}): its clustering agrees most with the others' (mean NMI "
          f"{mean[pick]:.3f}, next {second.max():.3f})")  # fmt: skip
    return pick


if __name__ == "__main__":
    run()

"""Which digits a generator draws: the shipped evaluator's class histogram of a ``predict`` samples file.

Run: ``python -m benchmarks.histogram samples.pt`` after ``python -m lit_gans predict ... --samples.count 10000``.
Prints the fraction of samples per class and the smallest one (a missing or rare digit is mode collapse).
"""

import argparse

import torch

from lit_gans.evaluator import load_evaluator


def class_fractions(images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) samples -> (10,) fraction of samples the evaluator puts in each class."""
    evaluator = load_evaluator()
    with torch.no_grad():
        classes = torch.cat(
            [
                evaluator(images[i : i + batch_size].float().div(127.5).sub(1)).argmax(1)
                for i in range(0, len(images), batch_size)
            ]
        )
    return torch.bincount(classes, minlength=10).float() / len(classes)


def main(argv: list[str] | None = None) -> torch.Tensor:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("samples", help="a .pt file written by predict (uint8 images)")
    args = parser.parse_args(argv)
    images = torch.load(args.samples, map_location="cpu", weights_only=True)["images"]
    fractions = class_fractions(images)
    print(" ".join(f"{k}:{f:.3f}" for k, f in enumerate(fractions.tolist())))
    print(f"histogram: {len(images)} samples, smallest class {int(fractions.argmin())} at {fractions.min():.3f}")
    return fractions


if __name__ == "__main__":
    main()

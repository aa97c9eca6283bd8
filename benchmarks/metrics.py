"""Cost of FID+IS+KID for 10,000 samples under a dataset's evaluator, and the scores real data gets (the floor).

Run from the repo root: ``python -m benchmarks.metrics [--dataset fashion_mnist]``. The "generated" images are the
first 10,000 images of the train split, the real ones the 10,000 test images, so the timed run also measures the
floor: the best FID, KID and IS a perfect generator could expect here.
"""

import argparse
import time

import torch

from lit_gans.data import DATASETS, SHIPPED, load_split, to_unit_range
from lit_gans.metrics import GenerativeMetrics

BATCH = 500  # the validation batch size of MNISTDataModule


def feed(update, images: torch.Tensor) -> None:
    for i in range(0, len(images), BATCH):
        update(images[i : i + BATCH])


@torch.inference_mode()  # as in Lightning's validation loop
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=list(DATASETS), default="mnist", help="whose images and evaluator")
    dataset = parser.parse_args(argv).dataset
    folder = DATASETS[dataset].__name__
    test = to_unit_range(load_split(SHIPPED, train=False, dataset=folder)[0])
    train = to_unit_range(load_split(SHIPPED, train=True, dataset=folder)[0][:10000])
    metrics = GenerativeMetrics(dataset=dataset)

    start = time.perf_counter()
    feed(metrics.update_real, test)
    real_s = time.perf_counter() - start
    feed(metrics.update_fake, train)
    floor = {k: v.item() for k, v in metrics.compute().items()}
    total_s = time.perf_counter() - start
    print(f"real stats, 10000 test images (once): {real_s:.2f} s")
    print(f"update fake 10000 + compute: {total_s - real_s:.2f} s")

    metrics.reset_fake()
    feed(metrics.update_fake, test)
    test_is = metrics.compute()["is"].item()
    print(
        f"floor, first 10000 train images vs 10000 test images: FID {floor['fid']:.3f} KID {floor['kid']:.5f} "
        f"IS {floor['is']:.3f}; IS of the 10000 test images {test_is:.3f}"
    )
    print(
        f"metrics ({dataset}): FID+IS+KID for 10000 samples in {total_s:.1f} s; "
        f"floor FID {floor['fid']:.2f} IS {test_is:.2f}"
    )


if __name__ == "__main__":
    main()

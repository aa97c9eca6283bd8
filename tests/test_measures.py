"""The variants' own measures: the sample accuracy of the conditional variants and the label-free mutual information
of InfoGAN's code (InfoGAN's code accuracy is tested beside InfoGAN, in test_infogan.py)."""

import math

import pytest
import torch

from lit_gans.data import load_split, to_unit_range
from lit_gans.measures import SampleAccuracy, code_mutual_information


def test_sample_accuracy_scores_the_asked_classes():
    images, labels = load_split("data", train=False)
    images = to_unit_range(images[:2000])
    by_class = [images[labels[:2000] == k][:20] for k in range(10)]  # 20 real test digits of every class

    def real_digits(offset):  # a "generator" that draws real digits of class (asked + offset) mod 10
        def generate(asked, rng):
            return torch.stack([by_class[(k + offset) % 10][i % 20] for i, k in enumerate(asked.tolist())])

        return generate

    metric = SampleAccuracy(num_classes=10, samples_per_class=20)
    assert metric.measure(real_digits(0)) >= 0.97  # the evaluator's accuracy on real digits
    assert metric.measure(real_digits(1)) <= 0.03  # every sample of the wrong class
    assert metric.update_count == 0  # reset after each measurement: one validation does not leak into the next
    halves = [SampleAccuracy(10, 20).measure(real_digits(0), rank=r, world=2) for r in (0, 1)]
    assert all(h >= 0.95 for h in halves)  # each rank draws its own share (rank::world) of every class


def test_code_mutual_information_rewards_confident_even_use_of_the_code():
    even_sure = torch.eye(10).repeat(5, 1)  # every image sure of its value, the ten values used evenly
    assert code_mutual_information(even_sure) == pytest.approx(math.log(10), abs=1e-6)
    merged = torch.eye(10)[[0, 1, 2, 3, 4, 5, 6, 7, 8, 8]].repeat(5, 1)  # two values' images share one value
    assert code_mutual_information(merged) < math.log(10) - 0.1
    unsure = torch.full((50, 10), 0.1)  # the same flat guess for every image: the code says nothing
    assert code_mutual_information(unsure) == pytest.approx(0.0, abs=1e-6)

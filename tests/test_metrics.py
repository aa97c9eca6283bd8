"""FID, IS and KID under the dataset's evaluator: real data scores well, noise badly, and real statistics persist."""

import importlib.util

import lightning as L
import pytest
import torch

from lit_gans.data import SHIPPED, MNISTDataModule, extract_shipped, load_split, to_unit_range
from lit_gans.errors import LitGansError
from lit_gans.evaluator import load_evaluator
from lit_gans.metrics import EvaluatorFeatures, GenerativeMetrics, dataset_of, resolve_backbone


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    images, _ = load_split("data", train=False)
    return to_unit_range(images[:2000])


def noise(n: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


def scores(real: torch.Tensor, fake: torch.Tensor, kid_subset_size: int = 500) -> dict[str, float]:
    metrics = GenerativeMetrics(kid_subset_size=kid_subset_size)
    metrics.update_real(real)
    metrics.update_fake(fake)
    return {k: v.item() for k, v in metrics.compute().items()}


def test_real_data_scores_far_better_than_noise(real):
    same = scores(real[:1000], real[1000:])
    noisy = scores(real[:1000], noise(1000))
    assert same["fid"] < 5 and noisy["fid"] > 100 * max(same["fid"], 0.1)
    assert abs(same["kid"]) < 0.01 and noisy["kid"] > 1


def test_inception_score_of_real_digits_and_noise(real):
    assert scores(real[:1000], real)["is"] > 9
    assert scores(real[:1000], noise(2000))["is"] < 3


def test_kid_subset_shrinks_to_the_images_there_are(real):
    small = scores(real[:100], real[100:150], kid_subset_size=1000)
    assert abs(small["kid"]) < 0.1
    metrics = GenerativeMetrics(kid_subset_size=20)
    metrics.update_real(real[:100])
    metrics.update_fake(real[100:101])
    with pytest.raises(LitGansError, match="at least 2"):
        metrics.compute()


def test_reset_fake_keeps_real_statistics(real):
    metrics = GenerativeMetrics(kid_subset_size=100).to("cpu")
    assert not metrics.has_real
    metrics.update_real(real[:500])
    metrics.update_fake(real[500:1000])
    first = metrics.compute()
    metrics.reset_fake()
    assert metrics.has_real
    metrics.update_fake(real[500:1000])
    assert metrics.compute() == first  # seeded subsets: identical numbers from identical inputs
    metrics.reset_all()
    assert not metrics.has_real


def test_features_stay_float32_under_autocast(real):
    extractor = EvaluatorFeatures(load_evaluator(), "logits")
    extractor.train()
    assert not extractor.training
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = extractor(real[:8])
    assert out.dtype == torch.float32 and out.shape == (8, 10)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(LitGansError, match="evaluator, inception"):
        GenerativeMetrics(backbone="vgg")
    with pytest.raises(LitGansError, match="kid_subset_size"):
        GenerativeMetrics(kid_subset_size=1)
    with pytest.raises(LitGansError, match=r"\[N, 1, 28, 28\]"):
        GenerativeMetrics().update_fake(torch.zeros(4, 28, 28))


@pytest.mark.skipif(importlib.util.find_spec("torch_fidelity") is not None, reason="torch-fidelity is installed")
def test_inception_without_torch_fidelity_says_how_to_get_it():
    with pytest.raises(LitGansError, match="Inception weights are not available offline"):
        GenerativeMetrics(backbone="inception")


def test_not_in_a_lightning_state_dict(real):
    class Holder(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 2)
            self.metrics = GenerativeMetrics(kid_subset_size=10)

    holder = Holder()
    holder.metrics.update_real(real[:20])
    assert set(holder.state_dict()) == {"layer.weight", "layer.bias"}
    assert [name for name, _ in holder.named_modules()] == ["", "layer"]


def test_auto_backbone_follows_the_dataset():
    assert resolve_backbone("auto", "mnist") == "evaluator" and resolve_backbone("auto", "fashion_mnist") == "evaluator"
    assert resolve_backbone("auto", "image_folder") == "inception"  # no shipped evaluator of your own images
    assert resolve_backbone("none", "mnist") == "none" and resolve_backbone("inception", "mnist") == "inception"
    with pytest.raises(LitGansError, match="auto, evaluator, inception, none"):
        resolve_backbone("vgg", "mnist")
    with pytest.raises(LitGansError, match="no evaluator for 'image_folder'"):
        GenerativeMetrics(backbone="evaluator", dataset="image_folder")


def test_fashion_mnist_is_scored_by_its_own_evaluator():
    extract_shipped(SHIPPED, "FashionMNIST")
    clothes, _ = load_split(SHIPPED, train=False, dataset="FashionMNIST")
    clothes = to_unit_range(clothes[:2000])
    own = GenerativeMetrics(kid_subset_size=500, dataset="fashion_mnist")
    own.update_real(clothes[:1000])
    own.update_fake(clothes[1000:])
    values = {k: v.item() for k, v in own.compute().items()}
    assert values["fid"] < 5 and values["is"] > 6  # real clothes against real clothes, ten classes told apart
    digits = GenerativeMetrics(kid_subset_size=500)  # MNIST's evaluator on the same images
    digits.update_real(clothes[:1000])
    digits.update_fake(clothes[1000:])
    assert digits.compute()["is"].item() < values["is"] - 1  # a digit classifier sees fewer classes in clothes


def test_dataset_of_reads_the_datamodule():
    class Trainer:
        datamodule = MNISTDataModule(dataset="fashion_mnist")

    assert dataset_of(Trainer()) == "fashion_mnist"
    Trainer.datamodule = None  # plain DataLoaders: the MNIST evaluator, as before other datasets
    assert dataset_of(Trainer()) == "mnist"

"""The shipped evaluators (MNIST, Fashion-MNIST): loadable without pickle, accurate on real test images, clear when
their weights are missing."""

import fnmatch
import re

import pytest
import torch
from conftest import ROOT

from lit_gans import evaluator as evaluator_module
from lit_gans.data import SHIPPED, extract_shipped, load_split, to_unit_range
from lit_gans.errors import LitGansError
from lit_gans.evaluator import WEIGHTS, Evaluator, load_evaluator


@pytest.fixture(scope="module")
def test_digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_split("data", train=False)
    return to_unit_range(images[:1000]), labels[:1000]


@pytest.mark.parametrize("dataset", list(WEIGHTS))
def test_weights_are_small_float32_tensors_shipped_with_the_package(dataset):
    assert WEIGHTS[dataset].stat().st_size < 5 * 2**20
    state = torch.load(WEIGHTS[dataset], map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    shipped = re.search(r"^lit_gans = \[(.*)\]", (ROOT / "pyproject.toml").read_text(), flags=re.M)[1]  # package-data
    assert any(fnmatch.fnmatch(WEIGHTS[dataset].name, pattern.strip(' "')) for pattern in shipped.split(","))


@pytest.mark.parametrize("dataset, folder, floor", [("mnist", "MNIST", 0.98), ("fashion_mnist", "FashionMNIST", 0.9)])
def test_each_evaluator_classifies_its_own_test_images_not_the_others(dataset, folder, floor):
    extract_shipped(SHIPPED, folder)
    images, labels = load_split(SHIPPED, train=False, dataset=folder)
    images, labels = to_unit_range(images[:2000]), labels[:2000]
    own = load_evaluator(dataset=dataset)
    other = load_evaluator(dataset="fashion_mnist" if dataset == "mnist" else "mnist")
    with torch.no_grad():
        assert (own(images).argmax(1) == labels).float().mean() >= floor
        assert (other(images).argmax(1) == labels).float().mean() < 0.5  # the weights are not one file twice


def test_an_unknown_dataset_has_no_evaluator():
    with pytest.raises(LitGansError, match="no evaluator for 'image_folder', only for mnist, fashion_mnist"):
        load_evaluator(dataset="image_folder")


def test_classifies_real_digits(test_digits):
    images, labels = test_digits
    model = load_evaluator()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        logits, features = model(images), model.features(images)
    assert logits.shape == (1000, 10) and features.shape == (1000, Evaluator.num_features)
    assert (features >= 0).all()  # taken after the ReLU
    assert (logits.argmax(1) == labels).float().mean() >= 0.98


def test_missing_weights_say_how_to_make_them(monkeypatch, tmp_path):
    monkeypatch.setitem(evaluator_module.WEIGHTS, "fashion_mnist", tmp_path / "evaluator_fashion_mnist.pt")
    with pytest.raises(LitGansError, match="python -m lit_gans.train_evaluator --dataset fashion_mnist"):
        load_evaluator(dataset="fashion_mnist")

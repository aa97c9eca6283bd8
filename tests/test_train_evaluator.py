"""The evaluator's training script: its augmentation, and a one-epoch run on a few images that saves weights."""

import pytest
import torch

from lit_gans import train_evaluator
from lit_gans.data import load_split, to_unit_range
from lit_gans.evaluator import Evaluator
from lit_gans.train_evaluator import main, random_shift


@pytest.fixture(scope="module")
def test_digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_split("data", train=False)
    return to_unit_range(images[:1000]), labels[:1000]


def test_random_shift_moves_content_and_pads_with_background():
    images = torch.full((64, 1, 28, 28), -1.0)
    images[:, :, 10:18, 10:18] = 1.0
    shifted = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    assert (shifted.sum((1, 2, 3)) == images.sum((1, 2, 3))).all()  # the square stays whole inside the frame
    assert not torch.equal(shifted, images)


def test_main_trains_and_saves(monkeypatch, tmp_path, capsys, test_digits):
    images, labels = test_digits
    uint8 = ((images.squeeze(1) + 1) * 127.5).round().to(torch.uint8)
    read = []
    monkeypatch.setattr(
        train_evaluator,
        "load_split",
        lambda data_dir, train, dataset: read.append(dataset) or (uint8[:256], labels[:256]),
    )
    out = tmp_path / "tiny.pt"
    main(["--dataset", "fashion_mnist", "--epochs", "1", "--out", str(out)])
    assert "evaluator (fashion_mnist): test accuracy" in capsys.readouterr().out.splitlines()[-1]
    assert read == ["FashionMNIST", "FashionMNIST"]  # the train and test splits of the dataset asked for
    Evaluator().load_state_dict(torch.load(out, weights_only=True))

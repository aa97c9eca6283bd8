"""The shipped evaluator: loadable without pickle, accurate on real digits, clear when its weights are missing."""

import pytest
import torch

from lit_gans import evaluator as evaluator_module
from lit_gans.data import load_split, to_unit_range
from lit_gans.errors import LitGansError
from lit_gans.evaluator import WEIGHTS, Evaluator, load_evaluator, main, random_shift


@pytest.fixture(scope="module")
def test_digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_split("data", train=False)
    return to_unit_range(images[:1000]), labels[:1000]


def test_weights_are_small_float32_tensors():
    assert WEIGHTS.stat().st_size < 5 * 2**20
    state = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


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
    monkeypatch.setattr(evaluator_module, "WEIGHTS", tmp_path / "evaluator.pt")
    with pytest.raises(LitGansError, match="python -m lit_gans.evaluator"):
        load_evaluator()


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
    monkeypatch.setattr(evaluator_module, "load_split", lambda data_dir, train: (uint8[:256], labels[:256]))
    out = tmp_path / "tiny.pt"
    main(["--epochs", "1", "--out", str(out)])
    assert "evaluator: test accuracy" in capsys.readouterr().out.splitlines()[-1]
    Evaluator().load_state_dict(torch.load(out, weights_only=True))

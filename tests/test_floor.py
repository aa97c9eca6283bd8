"""Smoke test of benchmarks/floor.py: its three arms and the checks, at tiny settings (speed is not checked)."""

import importlib

import pytest
import torch

from lit_gans import nets


@pytest.fixture(autouse=True)
def restore_threads():
    """The benchmark sets torch's thread count (one by default): give the other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_floor_times_three_arms_on_the_same_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # nothing may be written to the working folder
    floor = importlib.import_module("benchmarks.floor")  # as ``python -m benchmarks.floor`` runs it
    sizes = dict(nets.SIZES)
    result = floor.run(["--variants", "gan", "infogan", "--steps", "10", "--warmup", "2", "--repeats", "1"])
    assert nets.SIZES == sizes  # the 4-pixel networks were the benchmark's only: later runs see lit_gans' sizes
    assert list(result["variants"]) == ["gan", "infogan"]
    for name, r in result["variants"].items():
        assert r["batches"] == 1, name  # one D and one G update per generator step
        assert r["timed"] == {"ours": [10], "lightning": [10]}, name  # every step after the warm-up, and no more
        assert len(r["runs"]["plain"]) == len(r["runs"]["checks"]) == 1, name
        assert r["plain"] > 0 and r["lightning"] > 0 and r["ours"] > 0 and r["checks"] > 0, name
        assert r["lightning_share"] == pytest.approx(r["lightning"] - r["plain"])
        assert r["callbacks"] == pytest.approx(r["ours"] - r["lightning"])
        assert r["our_share"] == pytest.approx(r["callbacks"] + r["checks"])
        assert r["spread"] == 0  # one repeat
        # same initial weights, batches and noise: the bare Trainer and the plain loop did the CLI's work
        (lightning,) = r["weights"]["lightning"]
        assert r["weights"]["plain"] == [pytest.approx(lightning, rel=1e-5)], name
        assert r["weights"]["ours"] == [pytest.approx(lightning, rel=1e-5)], name
        assert r["same_weights"]
    assert not list(tmp_path.iterdir())
    lines = capsys.readouterr().out.splitlines()
    assert "torch threads 1" in lines[1]
    gan = result["variants"]["gan"]
    row = next(line for line in lines if line.startswith("gan "))
    assert row.split()[1:5] == ["1", f"{gan['plain']:.3f}", f"{gan['lightning']:.3f}", f"{gan['ours']:.3f}"]
    shares = ", ".join(f"{v} {r['our_share']:.3f}" for v, r in result["variants"].items())
    assert lines[-1].startswith(f"floor: our share ms/step {shares}; Lightning's share gan ")


def test_floor_checks_follow_the_variants_batches_per_step(monkeypatch):
    """WGAN-GP's generator step is 5 critic batches: 6 losses queued and 5 checks, where GAN's is 2 and 1."""
    floor = importlib.import_module("benchmarks.floor")
    from lit_gans.models import GAN

    assert floor.batches_per_step("wgan_gp") == 5 and floor.batches_per_step("dcgan") == 1
    with floor.four_pixel_networks():
        model = GAN(img_shape=(1, 4, 4))  # the 4-pixel size the benchmark adds to the networks while it runs
    queued, checked = [], []
    monkeypatch.setattr(model, "queue_finite_check", lambda name, loss: queued.append(name))
    monkeypatch.setattr(model, "raise_if_diverged", lambda: checked.append(len(queued)))
    monkeypatch.setattr(floor, "CHECK_STEPS", 1)
    assert floor.checks_ms(model, 5) > 0
    assert queued == ["loss/d"] * 5 + ["loss/g"]
    assert checked == [1, 1, 2, 2, 3, 3, 4, 4, 6, 6]  # finish_step's, then on_train_batch_end's, per batch

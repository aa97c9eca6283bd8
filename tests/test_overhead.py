"""What keeps the Trainer's per-step cost low: compiled networks, one divergence sync per step, cheap toggling, the
timed progress bar. Each check is on behaviour; speed itself is measured by benchmarks/, never by tests."""

import pytest
import torch
from lightning import Callback

from lit_gans.callbacks import CompileNetworks, ProgressBar

ARGS = ["fit", "--config=tiny", "--trainer.max_steps=3", "--trainer.limit_val_batches=0", "--images.every_n_steps=0"]
ARGS += ["--model.init_args.arch=mlp", "--trainer.log_every_n_steps=1"]  # every step's losses reach the metrics


class Losses(Callback):
    """Records each step's logged losses (log_every_n_steps=1: every step)."""

    def __init__(self):
        self.seen = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen.append([float(trainer.callback_metrics[k]) for k in ("loss/d", "loss/g")])


def fit_losses(run_cli, *extra):
    cli = run_cli(*ARGS, "--trainer.callbacks+=test_overhead.Losses", *extra)
    recorder = next(c for c in cli.trainer.callbacks if isinstance(c, Losses))
    return cli, torch.tensor(recorder.seen)


def test_compile_callback_compiles_g_and_d_in_place_and_trains_like_eager(run_cli):
    # backend "eager": TorchDynamo captures the graphs and runs them with the eager kernels (seconds on a CPU); the
    # slow test below runs inductor's generated code
    _, eager = fit_losses(run_cli)
    cli, compiled = fit_losses(run_cli, "--trainer.callbacks+=lit_gans.callbacks.CompileNetworks",
                               "--trainer.callbacks.backend=eager")  # fmt: skip
    model = cli.model
    assert model.generator._compiled_call_impl is not None and model.discriminator._compiled_call_impl is not None
    assert all(k.startswith(("generator.", "discriminator.")) for k in model.state_dict())  # no _orig_mod. keys
    assert compiled.shape == (3, 2)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_inductor_compiled_networks_give_eager_losses(run_cli, monkeypatch):
    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)  # dropout draws eager's random numbers
    _, eager = fit_losses(run_cli)
    _, compiled = fit_losses(run_cli, "--trainer.callbacks+=lit_gans.callbacks.CompileNetworks")
    torch.testing.assert_close(compiled, eager, rtol=1e-3, atol=1e-4)  # fused kernels round differently


def test_compile_callback_refuses_a_model_without_networks():
    from lit_gans.errors import LitGansError

    class NoNets(torch.nn.Module):
        pass

    with pytest.raises(LitGansError, match="has none"):
        CompileNetworks().setup(None, NoNets(), "fit")


def test_one_divergence_sync_per_step_names_the_first_bad_loss():
    from lit_gans.errors import LitGansError
    from lit_gans.models import GAN

    model = GAN(arch="mlp")
    model.queue_finite_check("loss/d", torch.tensor(float("inf")))
    model.queue_finite_check("loss/g", torch.tensor(float("nan")))
    assert len(model._pending_checks) == 2  # queued, not checked: no host sync yet
    with pytest.raises(LitGansError, match="step 0: loss/d=inf"):
        model.raise_if_diverged()
    assert model._pending_checks == []
    model.queue_finite_check("loss/d", torch.tensor(1.0))
    model.raise_if_diverged()  # finite: nothing raised


def test_toggling_freezes_the_other_network_and_restores_it(run_cli):
    cli = run_cli(*ARGS)
    model = cli.model
    assert len(model._frozen_by_optimizer) == 2  # one cached list per optimizer, not rebuilt every update
    opt_g, opt_d = model.optimizers()
    with model.toggled_optimizer(opt_g):
        assert not any(p.requires_grad for p in model.discriminator.parameters())
        assert all(p.requires_grad for p in model.generator.parameters())
    with model.toggled_optimizer(opt_d):
        assert not any(p.requires_grad for p in model.generator.parameters())
    assert all(p.requires_grad for p in model.parameters())  # untoggled: everything trainable again


def test_progress_bar_is_the_timed_one_and_redraws_on_a_timer(tmp_path, monkeypatch):
    from conftest import ROOT

    from lit_gans.cli import main

    monkeypatch.chdir(ROOT)
    cli = main([*ARGS, f"--trainer.default_root_dir={tmp_path}", "--data.batch_size=16"])
    assert len([c for c in cli.trainer.callbacks if isinstance(c, ProgressBar)]) == 1  # the CLI's default

    bar = ProgressBar(min_interval=10.0)
    draws = []
    monkeypatch.setattr(
        "lightning.pytorch.callbacks.TQDMProgressBar.on_train_batch_end", lambda self, *a: draws.append(a[-1])
    )
    monkeypatch.setattr(ProgressBar, "train_progress_bar", property(lambda self: type("Bar", (), {"total": 5})()))
    for i in range(5):
        bar.on_train_batch_end(None, None, None, None, i)
    assert draws == [0, 4]  # the first batch, then the epoch's last; not every batch

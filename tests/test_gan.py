"""The unconditional GAN's options: the loss pair and spectral normalisation of D."""

import pytest
import torch
from conftest import ROOT
from lightning import Trainer

from lit_gans import losses
from lit_gans.data import MNISTDataModule
from lit_gans.models import GAN
from lit_gans.models.gan import LOSSES


def test_each_loss_names_its_pair():
    assert LOSSES["bce"] == (losses.d_loss, losses.g_loss)  # the default stays the non-saturating GAN
    for name in LOSSES:
        model = GAN(loss=name)
        assert (model.d_loss, model.g_loss) == LOSSES[name]
    assert GAN().hparams.loss == "bce"


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_spectral_norm_makes_every_layer_of_d_1_lipschitz(arch):
    model = GAN(arch=arch, spectral_norm=True)
    layers = [m for m in model.discriminator.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.generator.modules())  # D only
    model.discriminator.train()
    for _ in range(30):  # each forward in training mode runs one power iteration
        model.discriminator(torch.randn(2, 1, 28, 28))
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert abs(sigma.item() - 1.0) < 0.05
    plain = GAN(arch=arch)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in plain.discriminator.modules())


@pytest.mark.parametrize("loss", ["hinge", "lsgan"])
def test_dcgan_trains_with_each_loss_and_spectral_norm(run_cli, loss):
    cli = run_cli("fit", "--config=dcgan", f"--model.init_args.loss={loss}", "--model.init_args.spectral_norm=true",
                  "--trainer.max_steps=3", "--trainer.limit_val_batches=0")  # fmt: skip
    assert cli.trainer.global_step == 3 and cli.model.hparams.loss == loss
    assert all(torch.isfinite(p).all() for p in cli.model.parameters())


def test_unknown_loss_is_one_line(run_cli, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("fit", "--config=dcgan", "--model.init_args.loss=wasserstein", "--trainer.fast_dev_run=true")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("lit_gans: error:") and "loss" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("loss, batches", [("bce", [16, 16, 16]), ("hinge", [16, 16, 16]), ("lsgan", [32, 32])])
def test_lsgan_scores_real_and_fake_in_one_batch(loss, batches, monkeypatch):
    """Under lsgan D sees reals and fakes together (BatchNorm shares their statistics), in D's step and in G's; the
    other losses keep two batches, so their measured runs are unchanged."""
    monkeypatch.chdir(ROOT)
    seen = []  # the batch size of every call of D during one training step
    model = GAN(loss=loss)
    model.discriminator.register_forward_hook(lambda module, args, out: seen.append(args[0].size(0)))
    trainer = Trainer(fast_dev_run=1, limit_val_batches=0, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu")  # fmt: skip
    trainer.fit(model, MNISTDataModule(batch_size=16))
    assert trainer.global_step == 1 and seen == batches

"""The unconditional GAN's options: the loss pair and spectral normalisation of D."""

import pytest
import torch

from lit_gans import losses
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


@pytest.mark.parametrize("loss", ["bce", "hinge"])
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


def test_the_removed_lsgan_loss_is_refused_in_one_line(run_cli, capsys):
    """lsgan was offered and removed (docs/results.md, the loss option): asking for it names the losses there are."""
    with pytest.raises(SystemExit):
        run_cli("fit", "--config=dcgan", "--model.init_args.loss=lsgan", "--trainer.fast_dev_run=true")
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bce" in err and "hinge" in err

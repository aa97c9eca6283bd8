import math

import torch
from torch import nn

from lit_gans.models import WGANGP


def test_critic_has_no_batchnorm_and_scores_each_image_on_its_own():
    critic = WGANGP().discriminator.train()
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    x = torch.randn(6, 1, 28, 28)
    alone, in_batch = critic(x[:1]), critic(x)[:1]
    assert torch.allclose(alone, in_batch, atol=1e-5)  # per-sample scores: the per-sample penalty is well defined


def test_paper_optimizers_by_default():
    opt_g, opt_d = WGANGP().configure_optimizers()
    for opt in (opt_g, opt_d):
        assert opt.param_groups[0]["lr"] == 1e-4 and opt.param_groups[0]["betas"] == (0.5, 0.9)
    assert WGANGP().d_steps == 5 and WGANGP().hparams.lambda_gp == 10.0


def test_five_critic_updates_per_generator_update(run_cli):
    cli = run_cli("fit", "--config=wgan_gp", "--trainer.max_steps=-1", "--trainer.max_epochs=1",
                  "--trainer.limit_train_batches=10", "--trainer.limit_val_batches=2")  # fmt: skip
    opt_g, opt_d = cli.trainer.optimizers
    assert cli.trainer.global_step == 2  # a step is a generator update: 10 batches, 2 G steps
    assert int(next(iter(opt_d.state.values()))["step"]) == 10  # the critic stepped on every batch
    assert int(next(iter(opt_g.state.values()))["step"]) == 2
    wasserstein = cli.trainer.callback_metrics["val/wasserstein"]
    assert math.isfinite(wasserstein.item())

import math

import torch

from lit_gans import losses


def test_gan_losses_on_logits():
    confident = torch.full((4,), 20.0)
    assert losses.d_loss(confident, -confident) < 1e-6  # D right on both: no loss
    assert losses.g_loss(confident) < 1e-6  # D fooled: no loss for G
    assert math.isclose(losses.d_loss(torch.zeros(4), torch.zeros(4)).item(), 2 * math.log(2), rel_tol=1e-6)
    assert torch.isfinite(losses.g_loss(torch.full((4,), -200.0)))  # logits keep extreme values finite


def test_gaussian_nll_matches_torch_distribution():
    mean, target, log_std = torch.randn(6, 2), torch.rand(6, 2) * 2 - 1, torch.randn(6, 2) * 0.3
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(target).sum(1).mean()
    assert torch.allclose(losses.gaussian_nll(mean, target, log_std), expected, atol=1e-5)
    unit = -torch.distributions.Normal(mean, 1.0).log_prob(target).sum(1).mean()
    assert torch.allclose(losses.gaussian_nll(mean, target), unit, atol=1e-5)

"""Losses as pure functions on logits: never a Sigmoid/Softmax before them (numerically unsafe)."""

import math

import torch
import torch.nn.functional as F


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's loss: -log D(x) - log(1 - D(G(z))), as two binary cross-entropies on logits."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """G's non-saturating loss -log D(G(z)) (Goodfellow et al. 2014, section 3): strong gradients early on."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of class (or categorical-code) logits; F.cross_entropy applies log-softmax itself."""
    return F.cross_entropy(logits, labels)


def gaussian_nll(mean: torch.Tensor, target: torch.Tensor, log_std: torch.Tensor | None = None) -> torch.Tensor:
    """-log N(target; mean, std) in nats, summed over code dimensions, averaged over the batch.

    With ``log_std=None`` the std is fixed to 1 (InfoGAN's default "factored Gaussian" with unit variance).
    """
    if log_std is None:
        log_std = torch.zeros_like(mean)
    nll = 0.5 * ((target - mean) * torch.exp(-log_std)) ** 2 + log_std + 0.5 * math.log(2 * math.pi)
    return nll.sum(dim=1).mean()

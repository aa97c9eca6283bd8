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


# ---- other loss pairs, selectable on the unconditional nets (``GAN(loss=...)``), and WGAN-GP's ------------------


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's hinge loss (Lim & Ye 2017; SNGAN, Miyato et al. 2018): max(0, 1 - D(x)) + max(0, 1 + D(G(z)))."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """G's loss under the hinge D: -D(G(z)) (no margin: G keeps pushing its outputs up)."""
    return -fake_logits.mean()


def categorical_information(logits: torch.Tensor) -> torch.Tensor:
    """H(mean p) - mean H(p) of a k-way head's (B, k) logits on one batch, in nats: what the head's value tells about
    an image. At most ln k, when every image falls confidently in one value and the values are used evenly; to be
    maximised, as in regularised information maximisation (RIM, Krause et al. 2010)."""
    log_p = logits.log_softmax(dim=1, dtype=torch.promote_types(logits.dtype, torch.float32))  # bf16 logits: float32
    p = log_p.exp()
    mean_p = p.mean(dim=0)
    return -(mean_p * mean_p.clamp(min=1e-12).log()).sum() + (p * log_p).sum(dim=1).mean()


def consistency(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """KL(p_target || p) of two (B, k) heads' logits, in nats, averaged over the batch: 0 when they agree. The caller
    detaches the target, so that only ``logits`` move toward it (as in the Pi-model and UDA)."""
    log_p = logits.log_softmax(dim=1, dtype=torch.promote_types(logits.dtype, torch.float32))
    log_target = target_logits.log_softmax(dim=1, dtype=log_p.dtype)
    return F.kl_div(log_p, log_target, reduction="batchmean", log_target=True)


def wasserstein_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic's loss E[C(G(z))] - E[C(x)]: its negative is the critic's estimate of the Wasserstein distance."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """G's loss under a critic: -E[C(G(z))]."""
    return -fake_scores.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017, eq. 3): E[(||grad C(x_hat)||_2 - 1)^2], x_hat on real-fake lines.

    ``create_graph=True`` keeps the gradient in the graph, so the penalty's own backward (a double backward) reaches
    the critic's weights. The norm is per sample, which is why the critic must not use BatchNorm (it mixes samples).

    Args:
        critic: maps images (B, C, H, W) to scores (B,).
        real: real images; ``fake`` detached generated images of the same shape.
        eps: interpolation weights (B,) in [0, 1]; None draws them uniformly (the paper's choice).
    """
    if eps is None:
        eps = torch.rand(real.size(0), device=real.device)
    eps = eps.view(-1, *([1] * (real.dim() - 1)))  # (B, 1, 1, 1): one weight per image
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores, x_hat, grad_outputs=torch.ones_like(scores), create_graph=True)
    norm = grad.float().flatten(1).norm(2, dim=1)  # float32 even under bf16 autocast: the penalty is a fine margin
    return (norm - 1.0).pow(2).mean()

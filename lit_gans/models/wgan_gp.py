"""WGAN-GP (Gulrajani et al. 2017, arXiv 1704.00028): a critic, the Wasserstein loss and a gradient penalty.

The critic C scores images without a sigmoid; E[C(x)] - E[C(G(z))] estimates the Wasserstein-1 distance between
the data and G's distribution provided C is 1-Lipschitz. Instead of clipping C's weights (WGAN), the penalty
lambda * (||grad C(x_hat)|| - 1)^2 on random interpolates x_hat between real and fake images keeps C's gradient
norm near 1 where it matters. Algorithm 1: n_critic = 5 critic updates per generator update, lambda = 10, Adam.
Networks: DCGAN's G (so that the two compare at the same step) and DCGAN's D with LayerNorm instead of BatchNorm; or,
for the 2D toy, the point networks the GAN variants get there (the authors' toy code, gan_toy.py, has ReLU MLPs too).
"""

from typing import Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torchmetrics import MeanMetric

from lit_gans import losses, nets
from lit_gans.errors import LitGansError
from lit_gans.models.base import GANModule

ARCHS = {  # (latent_dim, img_shape) -> (generator, critic)
    "dcgan": lambda z, shape: (  # DCGAN's G, so the two compare; DCGAN's D with LayerNorm as the critic
        nets.ConvGenerator(z, *nets.conv_shape(shape)),
        nets.ConvDiscriminator(shape[0], layer_norm=True, size=shape[1]),
    ),
    "points": lambda z, shape: (nets.PointGenerator(z, shape[0]), nets.PointDiscriminator(shape[0])),  # the 2D toy
}


class WGANGP(GANModule):
    """WGAN-GP: the critic minimises E[C(G(z))] - E[C(x)] + lambda_gp * GP; G minimises -E[C(G(z))].

    Args:
        latent_dim: size of the noise z ~ N(0, I).
        arch: "dcgan" (the networks above) or "points" (the 2D toy's, ``points.GaussianMixtureDataModule``).
        lambda_gp: weight of the gradient penalty (the paper uses 10 in every experiment).
        **kwargs: what every variant takes (optimizers, ``d_steps``, ``ema_decay``, data shapes): see ``GANModule``;
            ``d_steps`` (critic updates per generator update) defaults to the paper's n_critic, 5.
    """

    paper_lr_g = 1e-4  # Algorithm 1: alpha = 1e-4
    paper_lr_d = 1e-4
    paper_d_steps = 5  # Algorithm 1: n_critic = 5
    variant = "WGAN-GP"

    def __init__(
        self,
        latent_dim: int = 100,  # DCGAN's z, so that G is DCGAN's G exactly
        arch: Literal["dcgan", "points"] = "dcgan",
        lambda_gp: float = 10.0,  # the paper's lambda
        **kwargs,
    ):
        super().__init__(**kwargs)
        if latent_dim < 1:
            raise LitGansError(f"model.latent_dim must be >= 1, got {latent_dim}")
        if not lambda_gp >= 0:
            raise LitGansError(f"model.lambda_gp must be >= 0, got {lambda_gp}; the paper uses 10")
        nets.check_arch(arch, self.hparams.img_shape)
        self.generator, self.discriminator = ARCHS[arch](latent_dim, self.hparams.img_shape)  # D: the critic
        self.critic_real, self.critic_fake = MeanMetric(), MeanMetric()  # synced under DDP
        self.init_ema()

    @staticmethod
    def _paper_adam(lr: float) -> OptimizerCallable:
        # Algorithm 1 uses beta1 = 0, beta2 = 0.9; the authors' MNIST code (gan_mnist.py) beta1 = 0.5, beta2 = 0.9
        return lambda params: torch.optim.Adam(params, lr=lr, betas=(0.5, 0.9))

    def training_step(self, batch, batch_idx):
        real, _ = batch  # (B, 1, 28, 28) in [-1, 1] (points: (B, 2)); labels unused
        opt_g, opt_d = self.optimizers_counting_g_steps()
        g_turn = (batch_idx + 1) % self.d_steps == 0  # G every d_steps batches, after d_steps critic updates
        z = self.sample_inputs(real.size(0))["z"]
        with torch.set_grad_enabled(g_turn):  # G's graph is only kept on the batch where G is updated
            fake = self.generator(z)

        # critic: minimise E[C(G(z))] - E[C(x)] + lambda * E[(||grad C(x_hat)|| - 1)^2] (a double backward)
        with self.toggled_optimizer(opt_d):
            c_real, c_fake = self.discriminator(real), self.discriminator(fake.detach())
            penalty = losses.gradient_penalty(self.discriminator, real, fake.detach())
            loss_d = losses.wasserstein_d_loss(c_real, c_fake) + self.hparams.lambda_gp * penalty
            self.backward_and_step(opt_d, loss_d, "loss/d")
        logs = {
            "loss/d": loss_d,
            "loss/gp": penalty.detach(),
            "wasserstein": (c_real.detach().mean() - c_fake.detach().mean()).float(),  # this batch's estimate
        }

        # G: minimise -E[C(G(z))], once per d_steps critic updates
        if g_turn:
            with self.toggled_optimizer(opt_g):
                loss_g = losses.wasserstein_g_loss(self.discriminator(fake))
                self.backward_and_step(opt_g, loss_g, "loss/g")
            self.update_ema()
            logs["loss/g"] = loss_g
        self.finish_step(logs)

    # ---- the measure: the critic's Wasserstein estimate, real test images against fakes from a fixed seed ------

    def on_validation_epoch_start(self) -> None:
        self._val_rng = torch.Generator().manual_seed(4321 + self.global_rank)  # the same fakes every validation

    def validation_step(self, batch, batch_idx):
        real, _ = batch
        z = self.sample_inputs(real.size(0), self._val_rng)["z"].to(self.device)
        self.critic_real.update(self.discriminator(real).float())
        self.critic_fake.update(self.discriminator(self.sampling_generator(z)).float())

    def on_validation_epoch_end(self) -> None:
        # E[C(x)] - E[C(G(z))] over the whole test split (all ranks): falls as G's distribution nears the data's
        self.log("val/wasserstein", self.critic_real.compute() - self.critic_fake.compute(), prog_bar=True)
        self.critic_real.reset()
        self.critic_fake.reset()

"""Vanilla GAN (Goodfellow et al. 2014) and DCGAN (Radford et al. 2015): one algorithm, two sets of networks."""

from typing import Literal

import torch

from lit_gans import losses, nets
from lit_gans.errors import LitGansError
from lit_gans.models.base import GANModule

ARCHS = {  # a variant is which networks it gets: (latent_dim, img_shape) -> (generator, discriminator)
    "mlp": lambda z, shape: (nets.MLPGenerator(z, shape), nets.MLPDiscriminator(shape)),
    "dcgan": lambda z, shape: (  # the DCGAN authors' MNIST networks (dcgan_code/mnist): FC layers around two convs
        nets.ConvGenerator(z, *nets.conv_shape(shape)),
        nets.ConvDiscriminator(shape[0], size=shape[1]),
    ),
    "points": lambda z, shape: (nets.PointGenerator(z, shape[0]), nets.PointDiscriminator(shape[0])),  # the 2D toy
}
LOSSES = {  # a variant also names its loss pair: (D's loss, G's loss), both on D's raw outputs
    "bce": (losses.d_loss, losses.g_loss),  # Goodfellow et al. 2014, with the non-saturating G loss
    "hinge": (losses.hinge_d_loss, losses.hinge_g_loss),  # as in SNGAN (Miyato et al. 2018)
}  # LSGAN's least squares was offered and removed: far behind both on these networks (docs/results.md, the loss option)


class GAN(GANModule):
    """The unconditional GAN: the minimax game with the non-saturating generator loss, or another loss pair.

    Args:
        arch: "mlp" (vanilla GAN, multilayer perceptrons), "dcgan" (the DCGAN authors' MNIST networks) or "points"
            (small ReLU perceptrons for the 2D toy's points, ``points.GaussianMixtureDataModule``).
        latent_dim: size of the noise z ~ N(0, I).
        loss: "bce" (the GAN paper's, G non-saturating) or "hinge" (SNGAN's).
        spectral_norm: spectrally normalise every layer of D (Miyato et al. 2018).
        **kwargs: what every variant takes (optimizers, ``d_steps``, ``ema_decay``, data shapes): see ``GANModule``.
    """

    def __init__(
        self,
        arch: Literal["mlp", "dcgan", "points"] = "dcgan",
        latent_dim: int = 100,  # DCGAN paper: 100-dimensional z
        loss: Literal["bce", "hinge"] = "bce",
        spectral_norm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if latent_dim < 1:
            raise LitGansError(f"model.latent_dim must be >= 1, got {latent_dim}")
        nets.check_arch(arch, self.hparams.img_shape)
        self.generator, self.discriminator = ARCHS[arch](latent_dim, self.hparams.img_shape)
        if spectral_norm:
            nets.spectral_norm_(self.discriminator)
        self.d_loss, self.g_loss = LOSSES[loss]
        self.init_ema()

    @property
    def variant(self) -> str:
        return f"GAN(arch={self.hparams.arch})"

    def training_step(self, batch, batch_idx):
        real, _ = batch  # (B, 1, 28, 28) in [-1, 1] (points: (B, 2)); labels unused
        opt_g, opt_d = self.optimizers_counting_g_steps()
        fake = self.generator(self.sample_inputs(real.size(0))["z"])  # computed once, used by both updates

        # D: maximise log D(x) + log(1 - D(G(z))) (bce), or the chosen loss's D objective
        with self.toggled_optimizer(opt_d):
            d_real, d_fake = self.discriminator(real), self.discriminator(fake.detach())
            loss_d = self.d_loss(d_real, d_fake)
            self.backward_and_step(opt_d, loss_d, "loss/d")
        # D(x), D(G(z)): probabilities under bce; under hinge D's raw outputs (targets +1 / -1)
        readout = torch.sigmoid if self.hparams.loss == "bce" else torch.clone
        logs = {"loss/d": loss_d, "D(x)": readout(d_real.detach()).mean(), "D(G(z))": readout(d_fake.detach()).mean()}

        # G: maximise log D(G(z)) (non-saturating) or the chosen loss's G objective, every d_steps batches
        if (batch_idx + 1) % self.d_steps == 0:
            with self.toggled_optimizer(opt_g):
                loss_g = self.g_loss(self.discriminator(fake))
                self.backward_and_step(opt_g, loss_g, "loss/g")
            self.update_ema()
            logs["loss/g"] = loss_g
        self.finish_step(logs)

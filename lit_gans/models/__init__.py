"""Every variant the CLI can build (``--model.class_path lit_gans.models.<Name>``)."""

from lit_gans.models.acgan import ACGAN
from lit_gans.models.base import GANModule
from lit_gans.models.cgan import CGAN
from lit_gans.models.gan import GAN
from lit_gans.models.infogan import InfoGAN
from lit_gans.models.wgan_gp import WGANGP

__all__ = ["GANModule", "GAN", "InfoGAN", "ACGAN", "CGAN", "WGANGP"]

"""lit_gans: the classic GANs on MNIST, Fashion-MNIST or your own images as Lightning modules, usable from the CLI or
from your own script.

Importing lit_gans (or any of its modules: Python runs this file first) makes ``strategy="ddp"`` and ``ddp_spawn``
mean ``GANDDPStrategy`` for lit_gans' GANs: Lightning's own DDP cannot train a manual-optimization GAN without
``find_unused_parameters``. Every other LightningModule still gets Lightning's DDP, unchanged.
"""

# image_folder and points: --data ImageFolderDataModule, --data GaussianMixtureDataModule
from lit_gans import callbacks, data, image_folder, losses, models, nets, points
from lit_gans.callbacks import default_callbacks
from lit_gans.errors import LitGansError
from lit_gans.strategies import GANDDPStrategy, register

register()

__all__ = [
    "GANDDPStrategy",
    "LitGansError",
    "callbacks",
    "data",
    "default_callbacks",
    "image_folder",
    "losses",
    "models",
    "nets",
    "points",
]

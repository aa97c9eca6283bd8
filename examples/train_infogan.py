"""Train InfoGAN from a script of your own, then draw a grid: row k holds category k of the categorical code."""

import sys

import torch
from lightning import Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.utils import save_image

import lit_gans
from lit_gans.data import MNISTDataModule, to_unit_interval
from lit_gans.models import InfoGAN

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5000  # generator updates (the test runs 1)
data = MNISTDataModule(batch_size=128)  # MNIST in [-1, 1]; the copy the repo ships, from any folder
model = InfoGAN()  # the paper's MNIST setup; every constructor argument is a config option too
logger = TensorBoardLogger("lightning_logs", name="infogan")  # tensorboard --logdir lightning_logs
trainer = Trainer(max_steps=steps, callbacks=lit_gans.default_callbacks(), logger=logger)
trainer.fit(model, data)  # Trainer(strategy="ddp", devices=4) works as well: import lit_gans registered it

images = model.sample(100, categories=torch.arange(10).repeat_interleave(10), seed=0)  # (100, 1, 28, 28) in [-1, 1]
save_image(to_unit_interval(images), "infogan_grid.png", nrow=10)  # [-1, 1] -> [0, 1]

"""The 2D toy's figures and measures: D's output over the plane as a heat map with real and generated points, and the
mode-collapse papers' measures (modes covered, share of high-quality samples), after every validation.
"""

import torch
from lightning import Callback, LightningModule, Trainer

from lit_gans.callbacks.drawing import FAKE, REAL, colour_map, draw_points, plane, with_caption
from lit_gans.callbacks.pictures import ImageCallback
from lit_gans.errors import LitGansError
from lit_gans.measures import mode_coverage
from lit_gans.points import GaussianMixtureDataModule


def point_data(trainer: Trainer) -> GaussianMixtureDataModule | None:
    """The trainer's DataModule when it is the 2D toy's, else None."""
    datamodule = getattr(trainer, "datamodule", None)
    return datamodule if isinstance(datamodule, GaussianMixtureDataModule) else None


def require_points(callback: Callback, trainer: Trainer) -> GaussianMixtureDataModule:
    """The trainer's 2D toy DataModule; a clear error for a callback of the toy laid over other data."""
    datamodule = point_data(trainer)
    if datamodule is None:
        raise LitGansError(
            f"{type(callback).__name__} is made for the 2D toy's points, and the data are not its points "
            f"(points.GaussianMixtureDataModule): remove it"
        )
    return datamodule


class DiscriminatorMap(ImageCallback):
    """D's output over the plane as a heat map, the data's points in white and G's in red, after every validation.

    Under the GAN loss (``loss: bce``) the colour is D's probability that a point is real, on a fixed scale: dark purple
    0, yellow 1; elsewhere (hinge, WGAN-GP's critic) D's raw score, stretched between its 2nd and 98th percentile over
    the picture (a far corner's extreme score would wash out the rest), both written in the caption. The tag is
    ``discriminator_map``.

    Args:
        num_points: real and generated points drawn (each; the generated ones from the same noise every time).
        size: pixels per side of the heat map.
        every_n_steps, seed: see ``ImageCallback`` (0: after each validation only).
    """

    def __init__(self, num_points: int = 1000, size: int = 320, every_n_steps: int = 0, seed: int = 0):
        super().__init__(every_n_steps, seed)
        if num_points < 1 or size < 16:
            raise LitGansError(f"DiscriminatorMap needs num_points >= 1 and size >= 16, got {num_points} and {size}")
        self.num_points, self.size = num_points, size
        self.datamodule: GaussianMixtureDataModule | None = None  # the mixture drawn: its square and its points

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.datamodule = require_points(self, trainer)

    def make_images(self, pl_module):
        datamodule = self.datamodule
        extent, discriminator = datamodule.extent, pl_module.discriminator
        was_training = discriminator.training
        discriminator.eval()  # no side effects: spectral norm's power iteration runs only in training mode
        try:
            scores = discriminator(plane(extent, self.size).to(pl_module.device)).float().cpu()
        finally:
            discriminator.train(was_training)
        if pl_module.hparams.get("loss") == "bce":
            heat, scale = torch.sigmoid(scores), "D(x): purple 0 (generated) .. yellow 1 (real)"
        else:
            low, high = torch.quantile(scores, torch.tensor([0.02, 0.98]))
            heat = (scores - low) / (high - low).clamp(min=1e-12)
            scale = f"score of D: purple {low:.3g} or less .. yellow {high:.3g} or more"
        image = colour_map(heat.view(self.size, self.size))
        draw_points(image, datamodule.points(self.num_points), extent, REAL)
        draw_points(image, pl_module.sample(self.num_points, seed=self.seed), extent, FAKE)
        caption = [f"step {pl_module.global_step}   white: data   red: samples of G", scale]
        return {"discriminator_map": (with_caption(image, caption).mul(2).sub(1)[None], 1)}  # [-1, 1], as G's images


class ModeCoverage(Callback):
    """Logs the 2D toy's measures after every validation: ``val/modes`` (modes covered) and ``val/high_quality`` (the
    share of samples within 3 standard deviations of a mode), on ``num_samples`` samples from a fixed seed
    (``measures.mode_coverage``: VEEGAN's and PacGAN's definitions and sample size).

    Args:
        num_samples: generated points per measurement (the papers' 2,500).
        seed: seed of the generated points: the same noise every validation.
    """

    def __init__(self, num_samples: int = 2500, seed: int = 1234):
        if num_samples < 1:
            raise LitGansError(f"ModeCoverage.num_samples must be >= 1, got {num_samples}")
        self.num_samples, self.seed = num_samples, seed
        self.datamodule: GaussianMixtureDataModule | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.datamodule = require_points(self, trainer)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        datamodule = self.datamodule
        points = pl_module.sample(self.num_samples, seed=self.seed).cpu()  # every rank: the same points and values
        modes, good = mode_coverage(points, datamodule.centers, datamodule.std)
        pl_module.log_dict({"val/modes": float(modes), "val/high_quality": good}, prog_bar=True)


def point_callbacks(datamodule) -> list[Callback]:
    """What a run on the 2D toy's points gets beside the usual callbacks: D's heat map and the modes measures."""
    return [DiscriminatorMap(), ModeCoverage()] if isinstance(datamodule, GaussianMixtureDataModule) else []

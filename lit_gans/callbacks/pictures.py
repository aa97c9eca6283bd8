"""Pictures drawn while training: a fixed-noise sample grid, and each variant's figure (InfoGAN's traversals, the
class grid of AC-GAN and cGAN), to TensorBoard and as PNG files."""

import math
from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.utils import make_grid, save_image

from lit_gans.callbacks.drawing import points_panel
from lit_gans.data import to_unit_interval
from lit_gans.errors import LitGansError


def image_folder(trainer: Trainer) -> Path:
    """``<log_dir>/images``, created: where the PNG pictures go. The logger's folder, not ``trainer.log_dir``: that one
    broadcasts, and pictures are drawn on rank zero only."""
    folder = Path(getattr(trainer.logger, "log_dir", None) or trainer.default_root_dir) / "images"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class ImageCallback(Callback):
    """Logs pictures at the end of every validation and every ``every_n_steps`` training steps.

    Pictures are drawn under ``no_grad`` on rank zero only, with the sampling G in eval mode (restored after),
    and written both to TensorBoard (``add_image``) and as PNG files under ``<log_dir>/images/``.
    Subclasses say what to draw in ``make_images``.

    Args:
        every_n_steps: also log every this many training steps (0: only after validation).
        seed: seed of the fixed inputs, so the same latents are drawn every time.
    """

    def __init__(self, every_n_steps: int = 500, seed: int = 0):
        if every_n_steps < 0:
            raise LitGansError(f"{type(self).__name__}.every_n_steps must be >= 0, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.seed = seed
        self._last_step = -1

    def make_images(self, pl_module: LightningModule) -> dict[str, tuple[torch.Tensor, int]]:
        """Returns {tag: (images (N, C, H, W) in [-1, 1], images per row)}."""
        raise NotImplementedError

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.every_n_steps and step > 0 and step % self.every_n_steps == 0:
            self.log_images(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self.log_images(trainer, pl_module)

    def log_images(self, trainer: Trainer, pl_module: LightningModule) -> None:
        step = trainer.global_step
        if not trainer.is_global_zero or step == self._last_step:
            return
        self._last_step = step
        generator = pl_module.sampling_generator
        was_training = generator.training
        generator.eval()
        try:
            with torch.no_grad():
                images = self.make_images(pl_module)
        finally:
            generator.train(was_training)
        folder = image_folder(trainer)
        for tag, (batch, nrow) in images.items():
            grid = make_grid(to_unit_interval(batch), nrow=nrow, padding=2, pad_value=1.0)
            save_image(grid, folder / f"{tag.replace('/', '_')}_step{step:06d}.png")
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_image(tag, grid, step)


class SampleGrid(ImageCallback):
    """A grid of samples from the same fixed noise every time, so progress is visible at a glance; on the 2D toy's
    points, one picture of the samples over the plane.

    Args:
        num_samples: pictures in the grid (a square number reads best).
        every_n_steps, seed: see ``ImageCallback``.
    """

    def __init__(self, num_samples: int = 64, every_n_steps: int = 500, seed: int = 0):
        super().__init__(every_n_steps, seed)
        if num_samples < 1:
            raise LitGansError(f"images.num_samples must be >= 1, got {num_samples}")
        self.num_samples = num_samples

    def make_images(self, pl_module):
        images = pl_module.sample(self.num_samples, seed=self.seed)
        if images.dim() == 2:  # (N, 2) points: a scatter of them, in [-1, 1] as images are
            panel = points_panel(images, getattr(pl_module.trainer, "datamodule", None))
            return {"samples": (panel.mul(2).sub(1)[None], 1)}
        return {"samples": (images, math.isqrt(self.num_samples - 1) + 1)}


class LatentTraversal(ImageCallback):
    """InfoGAN's Figure 2: what each code controls.

    ``traversal/categorical``: row k = value k of the first categorical code, columns = different noise.
    ``traversal/continuous_j``: row k = categorical value k, columns = continuous code j swept over [-span, span],
    with one fixed noise vector and the other codes at 0, so only the two codes change across the picture.

    Args:
        steps: columns per picture.
        span: sweep continuous codes over [-span, span] times the model's ``code_range`` (the prior is
            U(-code_range, code_range): a span beyond 1 extrapolates, as the paper's Figure 2 does).
        every_n_steps: also draw every this many training steps (0: after each validation only, a figure per epoch).
        seed: see ``ImageCallback``.
    """

    def __init__(self, steps: int = 10, span: float = 2.0, every_n_steps: int = 0, seed: int = 0):
        super().__init__(every_n_steps, seed)
        self.steps, self.span = steps, span

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        from lit_gans.models.infogan import InfoGAN

        if not isinstance(pl_module, InfoGAN):
            raise LitGansError(f"LatentTraversal draws InfoGAN codes; the model is {pl_module.variant}: remove it")

    def make_images(self, pl_module):
        hp, steps = pl_module.hparams, self.steps
        k = hp.categorical[0]
        rng = torch.Generator().manual_seed(self.seed)
        categories = torch.zeros(k * steps, len(hp.categorical), dtype=torch.long)
        categories[:, 0] = torch.arange(k).repeat_interleave(steps)  # row r: category r
        codes = torch.zeros(k * steps, hp.continuous)
        noise_per_column = pl_module.draw_noise(steps, rng).repeat(k, 1)  # from the model's noise prior
        images = {"traversal/categorical": (pl_module.latent(noise_per_column, categories, codes), steps)}
        noise = pl_module.draw_noise(1, rng).expand(k * steps, -1)
        for j in range(hp.continuous):
            swept = codes.clone()
            swept[:, j] = torch.linspace(-self.span, self.span, steps).repeat(k) * hp.code_range
            images[f"traversal/continuous_{j + 1}"] = (pl_module.latent(noise, categories, swept), steps)
        generator = pl_module.sampling_generator
        return {tag: (generator(z.to(pl_module.device)), nrow) for tag, (z, nrow) in images.items()}


class ClassGrid(ImageCallback):
    """The class grid of AC-GAN and cGAN: row k = class k, column j = fixed noise vector j (same noise down a column).

    Args:
        columns: noise vectors (columns) per class.
        every_n_steps: also draw every this many training steps (0: after each validation only, a figure per epoch).
        seed: see ``ImageCallback``.
    """

    def __init__(self, columns: int = 10, every_n_steps: int = 0, seed: int = 0):
        super().__init__(every_n_steps, seed)
        self.columns = columns

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        from lit_gans.models import ACGAN, CGAN

        if not isinstance(pl_module, (ACGAN, CGAN)):
            raise LitGansError(
                f"ClassGrid draws the classes of AC-GAN or CGAN; the model is {pl_module.variant}: remove it"
            )

    def make_images(self, pl_module):
        k = pl_module.hparams.num_classes
        rng = torch.Generator().manual_seed(self.seed)
        noise = pl_module.draw_noise(self.columns, rng).repeat(k, 1)
        labels = torch.arange(k).repeat_interleave(self.columns)
        z = pl_module.latent(noise, labels).to(pl_module.device)
        return {"class_grid": (pl_module.sampling_generator(z), self.columns)}


def variant_pictures(model: LightningModule) -> list[Callback]:
    """The figure a variant's paper draws, beside the sample grid: InfoGAN's traversals, the conditional variants'
    class grid; the CLI adds it unless the config lists its own."""
    from lit_gans.models import ACGAN, CGAN, InfoGAN

    if isinstance(model, InfoGAN):
        return [LatentTraversal()]
    if isinstance(model, (ACGAN, CGAN)):
        return [ClassGrid()]
    return []

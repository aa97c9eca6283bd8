"""The progress strip: the same fixed-noise samples at regular steps, in one picture that shows a run's progress at a
glance (``images/progress.png``) and as an animation (``images/progress.gif``)."""

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image
from torchvision.utils import make_grid, save_image

from lit_gans.callbacks.drawing import points_panel, with_caption, with_label
from lit_gans.callbacks.pictures import image_folder
from lit_gans.data import to_unit_interval
from lit_gans.errors import LitGansError


class ProgressStrip(Callback):
    """Samples from one fixed noise every ``every_n_steps`` steps, one row per step (images: ``columns`` samples; the
    2D toy's points: a panel of ``points`` samples over the plane), each labelled with its step, from step 0 (G before
    training) to the last step (added when training ends).

    At most ``max_rows`` rows are kept: one more drops every other row and doubles the interval, so a run of any length
    gets an evenly spaced strip, and the callback holds a few small pictures, never one per step. The picture is
    written again at each new row, so a stopped run has its strip too; when training ends, the animation is written
    and the strip also goes to TensorBoard (tag ``progress``). The rows are kept in checkpoints: a resumed run
    continues its strip. Drawn on rank zero; between rows a step costs one integer test.

    Args:
        every_n_steps: steps between rows at first (it doubles as rows are thinned); 0: the first and last step only.
        columns: samples per row (images).
        points: samples per panel (points).
        max_rows: rows kept (at least 2).
        seed: seed of the fixed noise.
    """

    def __init__(
        self, every_n_steps: int = 100, columns: int = 8, points: int = 500, max_rows: int = 12, seed: int = 0
    ):
        if every_n_steps < 0 or columns < 1 or points < 1 or max_rows < 2:
            raise LitGansError(
                f"progress: every_n_steps must be >= 0, columns and points >= 1, max_rows >= 2; got {every_n_steps}, "
                f"{columns}, {points} and {max_rows}"
            )
        self.every_n_steps, self.columns, self.points, self.max_rows, self.seed = (
            every_n_steps,
            columns,
            points,
            max_rows,
            seed,
        )
        self.rows: list[tuple[int, torch.Tensor]] = []  # (step, uint8 (3, H, W)), the kept rows in step order

    # ---- when: step 0, every every_n_steps steps, the last step ------------------------------------------------------

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.global_step == 0 and not self.rows:
            self.add_row(trainer, pl_module)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.every_n_steps and step % self.every_n_steps == 0 and (not self.rows or self.rows[-1][0] < step):
            self.add_row(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self.write(trainer, pl_module, final=True)

    # ---- what -------------------------------------------------------------------------------------------------------

    def add_row(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self.rows.append((trainer.global_step, self.row(pl_module)))
        if len(self.rows) > self.max_rows:  # thin: keep the steps on the doubled interval (step 0 always)
            self.every_n_steps *= 2
            self.rows = [(step, row) for step, row in self.rows if step % self.every_n_steps == 0]
        self.write(trainer, pl_module)

    def row(self, pl_module: LightningModule) -> torch.Tensor:
        """The samples of this step as uint8 (3, H, W): a row of images, or a panel of points."""
        if pl_module.hparams.get("img_shape") is not None and len(pl_module.hparams.img_shape) == 1:  # points
            samples = pl_module.sample(self.points, seed=self.seed)
            picture = points_panel(samples, getattr(pl_module.trainer, "datamodule", None))
        else:
            samples = pl_module.sample(self.columns, seed=self.seed)
            picture = make_grid(to_unit_interval(samples), nrow=self.columns, padding=2, pad_value=1.0)
        return picture.mul(255).round().to(torch.uint8).cpu()

    def write(self, trainer: Trainer, pl_module: LightningModule, final: bool = False) -> None:
        """Writes the strip and the animation; ``final`` adds the current step when it is not a row yet."""
        rows = list(self.rows)
        if final and (not rows or rows[-1][0] < trainer.global_step):
            rows.append((trainer.global_step, self.row(pl_module)))
        if not rows:
            return
        labelled = [label(row.float() / 255, step) for step, row in rows]
        wide = labelled[0].size(2) > 2 * labelled[0].size(1)  # rows of images stack; panels of points tile
        strip = make_grid(torch.stack(labelled), nrow=1 if wide else min(4, len(labelled)), padding=2, pad_value=1.0)
        folder = image_folder(trainer)
        save_image(strip, folder / "progress.png")
        if final:  # the animation once: encoding it at every row would cost more than drawing the rows
            frames = [Image.fromarray(frame.mul(255).round().byte().permute(1, 2, 0).numpy()) for frame in labelled]
            frames[0].save(folder / "progress.gif", save_all=True, append_images=frames[1:], duration=600, loop=0)
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_image("progress", strip, trainer.global_step)

    # ---- checkpoints: a resumed run continues its strip --------------------------------------------------------------

    def state_dict(self) -> dict:
        rows = torch.stack([row for _, row in self.rows]) if self.rows else torch.empty(0, dtype=torch.uint8)
        return {"every_n_steps": self.every_n_steps, "steps": [step for step, _ in self.rows], "rows": rows}

    def load_state_dict(self, state: dict) -> None:
        self.every_n_steps = state["every_n_steps"]
        self.rows = list(zip(state["steps"], state["rows"], strict=True))


def label(picture: torch.Tensor, step: int) -> torch.Tensor:
    """A row of images gets its step written at its left; a panel of points, above it."""
    if picture.size(2) > 2 * picture.size(1):
        return with_label(picture, f"step {step}")
    return with_caption(picture, [f"step {step}"])

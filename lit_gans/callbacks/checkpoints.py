"""When checkpoints are written (every N steps, every epoch end, on Ctrl-C or SIGTERM), and how: whole or not at all."""

import os
from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lit_gans.lightning_private import name_by_global_step, save_last_unless_saved


class GANCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes ``last.ckpt`` every ``every_n_train_steps`` steps *and* at every epoch end.

    Lightning makes the two triggers exclusive; a long run wants both (crash safety and a per-epoch snapshot).
    Takes ModelCheckpoint's arguments.
    """

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        save_last_unless_saved(self, trainer)

    def _monitor_candidates(self, trainer: Trainer) -> dict:
        return name_by_global_step(super()._monitor_candidates(trainer), trainer)  # step=N names the weights' step


class InterruptCheckpoint(Callback):
    """Saves ``last.ckpt`` beside the periodic checkpoints on Ctrl-C or SIGTERM, so ``--ckpt_path last`` resumes.

    Any other exception (a diverged loss, a bug) saves nothing: the last good checkpoint must stay intact.
    (Not Lightning's OnExceptionCheckpoint: its presence makes ``fit`` silently resume from "last".)
    """

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        checkpoint = trainer.checkpoint_callback
        if isinstance(exception, (KeyboardInterrupt, SIGTERMException)) and checkpoint and checkpoint.dirpath:
            trainer.save_checkpoint(Path(checkpoint.dirpath) / "last.ckpt")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a hidden ``.NAME.partial`` beside it, flushes it to the disk, then renames it over
    ``NAME``: a full disk or a killed process leaves the previous checkpoint whole, and no ``last.ckpt`` is ever a
    partly written file. (Lightning's own writer goes through a temporary file in the system's temp folder and then
    a copy, which a full disk can cut short.) Remote paths (``s3://``) keep Lightning's writer.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if "://" in str(path) or storage_options is not None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)  # atomic on one filesystem: readers see the old file or the new one
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

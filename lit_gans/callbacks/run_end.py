"""How a run ends: one that stops mid-epoch on ``max_steps`` still gets its last validation, and one that fails
before its first step leaves no log folder behind."""

import contextlib
import shutil
import time
from pathlib import Path

from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.exceptions import SIGTERMException


class ValidateLastStep(Callback):
    """Validates after the last step when ``max_steps`` ends a run mid-epoch, so its final metrics and pictures are
    logged (Lightning would stop without): it asks the trainer to stop at that step, which Lightning answers with a
    validation. A last step that is validated anyway (an epoch end, a ``val_check_interval``) is validated once."""

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


class NoDebris(Callback):
    """Removes the log folder of a run that failed before its first training step (bad data, a batch larger than
    the data): Lightning creates ``version_N`` before the data is read, and it would be left holding only an events
    file and the config, the newest run that ``ls`` and TensorBoard show. A folder holding a checkpoint, a run that
    trained a step, an interrupted run and files older than this run are left alone."""

    def __init__(self):
        self.started = time.time()
        self.trained = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.trained = True

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        interrupted = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        log_dir = getattr(trainer.logger, "log_dir", None)
        if interrupted or self.trained or not trainer.is_global_zero or not log_dir or not Path(log_dir).is_dir():
            return
        folder = Path(log_dir)
        files = [p for p in folder.rglob("*") if p.is_file()]
        if any(p.suffix == ".ckpt" or p.stat().st_mtime < self.started - 1 for p in files):
            return
        trainer.logger.finalize("failed")  # closes the event file before its folder goes
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # lightning_logs/, when this run's folder was all it held

"""A run that ends mid-epoch on ``max_steps`` still gets its last validation."""

from lightning import Callback, LightningModule, Trainer


class ValidateLastStep(Callback):
    """Validates after the last step when ``max_steps`` ends a run mid-epoch, so its final metrics and pictures are
    logged (Lightning would stop without): it asks the trainer to stop at that step, which Lightning answers with a
    validation. A last step that is validated anyway (an epoch end, a ``val_check_interval``) is validated once."""

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True

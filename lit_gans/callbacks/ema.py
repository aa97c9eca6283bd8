"""EMA copies of the generator at further decays, for scoring several decays from one run."""

import torch
from lightning import Callback, LightningModule, Trainer

from lit_gans.errors import LitGansError


class EMACopies(Callback):
    """EMA copies of G at further decays, beside the model's own ``ema_decay`` copy and updated as it is, after each
    generator step (the trainer's global step counts generator steps only). ``benchmarks/compare.py`` scores them;
    they are not saved in checkpoints.

    Args:
        decays: one EMA copy per decay, each in (0, 1).
    """

    def __init__(self, decays: list[float]):
        if not decays or not all(0.0 < d < 1.0 for d in decays):
            raise LitGansError(f"EMACopies decays must each be in (0, 1), got {decays}; e.g. [0.99]")
        self.decays = decays
        self.copies: dict[float, torch.optim.swa_utils.AveragedModel] = {}
        self._last_step = 0

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for decay in self.decays:
            avg = torch.optim.swa_utils.get_ema_multi_avg_fn(decay)
            self.copies[decay] = torch.optim.swa_utils.AveragedModel(
                pl_module.generator, multi_avg_fn=avg, use_buffers=True
            )
        self._last_step = trainer.global_step

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if trainer.global_step > self._last_step:  # G stepped in this batch (WGAN-GP's critic batches do not count)
            self._last_step = trainer.global_step
            for copy in self.copies.values():
                copy.update_parameters(pl_module.generator)

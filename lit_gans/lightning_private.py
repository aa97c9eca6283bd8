"""The one place lit_gans touches Lightning's private API: each use, and why no public hook does its job.

``pyproject.toml`` caps ``lightning`` at the newest minor the test suite passed on, because a minor release may rename
any of these. ``tests/test_lightning_private.py`` fails first if one of them disappears.
"""

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI


def _do_nothing() -> None:
    pass


def leave_out_of_global_step(optimizer) -> None:
    """Stops ``optimizer.step()`` from counting in ``trainer.global_step`` (D's optimizer: a step is one G update).

    Under manual optimization Lightning counts every optimizer step as a global step (Lightning issue #17958), so a
    D+G iteration would count twice and ``max_steps`` would stop at half the iterations the papers mean. The count is
    made by the ``_on_before_step``/``_on_after_step`` hooks of the ``LightningOptimizer`` wrapper; there is no public
    switch.
    """
    optimizer._on_before_step = optimizer._on_after_step = _do_nothing


def logger_writes_this_step(trainer) -> bool:
    """Whether ``self.log`` values of this training step reach the logger (every ``log_every_n_steps``).

    Skipping ``self.log`` on the other steps saves about 0.4 ms of Lightning bookkeeping per value; the decision is
    the logger connector's ``should_update_logs``, which has no public twin.
    """
    return bool(trainer.fast_dev_run) or trainer._logger_connector.should_update_logs


def save_last_unless_saved(checkpoint: ModelCheckpoint, trainer) -> None:
    """Writes ``checkpoint``'s ``last.ckpt`` now unless it already holds this step (or saving is off for this run).

    ModelCheckpoint makes its step and epoch triggers exclusive; calling its own last-checkpoint writer keeps its
    bookkeeping (what it saved, when, the skip rules for sanity checks and ``fast_dev_run``) as Lightning keeps it.
    """
    if checkpoint.save_last and not checkpoint._should_skip_saving_checkpoint(trainer):
        if checkpoint._last_global_step_saved != trainer.global_step:
            checkpoint._save_last_checkpoint(trainer, checkpoint._monitor_candidates(trainer))


def name_by_global_step(candidates: dict, trainer) -> dict:
    """A ModelCheckpoint's ``_monitor_candidates`` with ``step`` set to ``trainer.global_step``, the weights' step.

    ModelCheckpoint names its files by a logged ``step`` when the model logged one (the public way to choose a
    logger's x-axis); lit_gans logs ``step`` at each validation, so a checkpoint written between two validations was
    named by the last validation's step (``epoch=2-step=468.ckpt`` held step 936). There is no public hook for the
    values a checkpoint's name is formatted with.
    """
    return {**candidates, "step": torch.tensor(trainer.global_step)}


class ConfigOverCheckpointCLI(LightningCLI):
    """LightningCLI that builds the model from the config and command line only, never from a checkpoint's hparams.

    LightningCLI's private ``_parse_ckpt_path`` rebuilds the model from the arguments saved in ``--ckpt_path``,
    overriding the config and the command line (a ``--model.init_args.predict_category`` would be silently replaced).
    lit_gans instead checks that the checkpoint matches the model the config builds, and says so when it does not.
    """

    def _parse_ckpt_path(self) -> None:
        pass

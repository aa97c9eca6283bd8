"""When checkpoints are written: every N steps and every epoch end, and on Ctrl-C or SIGTERM."""

from pathlib import Path

from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lit_gans.lightning_private import save_last_unless_saved


class GANCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes ``last.ckpt`` every ``every_n_train_steps`` steps *and* at every epoch end.

    Lightning makes the two triggers exclusive; a long run wants both (crash safety and a per-epoch snapshot).
    Takes ModelCheckpoint's arguments.
    """

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        save_last_unless_saved(self, trainer)


class InterruptCheckpoint(Callback):
    """Saves ``last.ckpt`` beside the periodic checkpoints on Ctrl-C or SIGTERM, so ``--ckpt_path last`` resumes.

    Any other exception (a diverged loss, a bug) saves nothing: the last good checkpoint must stay intact.
    (Not Lightning's OnExceptionCheckpoint: its presence makes ``fit`` silently resume from "last".)
    """

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        checkpoint = trainer.checkpoint_callback
        if isinstance(exception, (KeyboardInterrupt, SIGTERMException)) and checkpoint and checkpoint.dirpath:
            trainer.save_checkpoint(Path(checkpoint.dirpath) / "last.ckpt")

"""Callbacks, one job per module: pictures, the progress strip, the 2D toy's heat map and measures, generation metrics,
checkpoints, the last validation, EMA copies, the predict writer, a timed progress bar and ``torch.compile``. Every one
is importable from here, as configs name them (``lit_gans.callbacks.ClassGrid``)."""

from lightning import Callback

from lit_gans.callbacks.checkpoints import AtomicCheckpointIO, GANCheckpoint, InterruptCheckpoint
from lit_gans.callbacks.compile import CompileNetworks
from lit_gans.callbacks.ema import EMACopies
from lit_gans.callbacks.generation_metrics import GenerationMetrics
from lit_gans.callbacks.pictures import ClassGrid, ImageCallback, LatentTraversal, SampleGrid, variant_pictures
from lit_gans.callbacks.plane import DiscriminatorMap, ModeCoverage, point_callbacks
from lit_gans.callbacks.progress import ProgressBar
from lit_gans.callbacks.run_end import NoDebris, ValidateLastStep
from lit_gans.callbacks.samples import SampleWriter
from lit_gans.callbacks.strip import ProgressStrip

__all__ = [
    "AtomicCheckpointIO",
    "ClassGrid",
    "CompileNetworks",
    "DiscriminatorMap",
    "EMACopies",
    "GANCheckpoint",
    "GenerationMetrics",
    "ImageCallback",
    "InterruptCheckpoint",
    "LatentTraversal",
    "ModeCoverage",
    "NoDebris",
    "ProgressBar",
    "ProgressStrip",
    "SampleGrid",
    "SampleWriter",
    "ValidateLastStep",
    "default_callbacks",
    "point_callbacks",
    "variant_pictures",
]


def default_callbacks(
    *, every_n_steps: int = 500, num_eval_samples: int = 10000, checkpoint_dir: str | None = None
) -> list[Callback]:
    """The callbacks a ``python -m lit_gans fit`` run gets, with the CLI's defaults, for a Trainer of your own.

    A fixed-noise sample grid (``SampleGrid``), FID/IS/KID at every validation (``GenerationMetrics``), ``last.ckpt``
    every ``every_n_steps`` steps and every epoch end (``GANCheckpoint``) and on Ctrl-C (``InterruptCheckpoint``),
    a validation after a last step that falls mid-epoch (``ValidateLastStep``) and the progress strip
    (``ProgressStrip``, its own interval). A variant's own pictures (``LatentTraversal``, ``ClassGrid``), the 2D toy's
    (``point_callbacks``), the predict writer and the CLI's timed ``ProgressBar`` are added by hand (the bar only where
    the Trainer shows one: Lightning refuses a bar callback with ``enable_progress_bar=False``).

    Args:
        every_n_steps: pictures and ``last.ckpt`` every this many steps, besides every validation / epoch end.
        num_eval_samples: generated images per metric evaluation (10,000 is the usual FID sample).
        checkpoint_dir: where checkpoints go (None: the logger's ``checkpoints/`` folder, as in the CLI).
    """
    return [
        SampleGrid(every_n_steps=every_n_steps),
        GenerationMetrics(num_eval_samples=num_eval_samples),
        GANCheckpoint(dirpath=checkpoint_dir, save_last=True, every_n_train_steps=every_n_steps),
        InterruptCheckpoint(),
        ValidateLastStep(),
        ProgressStrip(),
    ]

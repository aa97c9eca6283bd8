"""Callbacks: picture grids (TensorBoard + PNG), generation metrics, the predict writer, interrupt checkpoints,
a progress bar that redraws on a timer, and ``torch.compile`` of the networks."""

import math
import os
import time
from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torchvision.utils import make_grid, save_image

from lit_gans.data import to_uint8
from lit_gans.errors import LitGansError
from lit_gans.metrics import BACKBONES, GenerativeMetrics, dataset_of, resolve_backbone


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
        # the logger's folder, not trainer.log_dir: that one broadcasts, and only rank zero is here
        folder = Path(getattr(trainer.logger, "log_dir", None) or trainer.default_root_dir) / "images"
        folder.mkdir(parents=True, exist_ok=True)
        for tag, (batch, nrow) in images.items():
            grid = make_grid(batch.float().add(1).div(2).clamp(0, 1), nrow=nrow, padding=2, pad_value=1.0)
            save_image(grid, folder / f"{tag.replace('/', '_')}_step{step:06d}.png")
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_image(tag, grid, step)


class SampleGrid(ImageCallback):
    """A grid of samples from the same fixed noise every time, so progress is visible at a glance.

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
        images = pl_module.generate(self.num_samples, seed=self.seed)
        return {"samples": (images, math.isqrt(self.num_samples - 1) + 1)}


class GenerationMetrics(Callback):
    """FID, IS and KID (torchmetrics, on the dataset's evaluator or InceptionV3) after every validation, as val/fid etc.

    The real statistics come from the validation batches of the first validation (not the sanity check) and are
    kept for the run. Each validation then generates ``num_eval_samples`` images from a fixed seed, split across
    DDP ranks; every rank computes, torchmetrics syncs the states, so all ranks log the same values.

    Args:
        num_eval_samples: generated images per evaluation (10,000 is the usual FID sample).
        backbone: "auto" (the DataModule's dataset decides: its shipped evaluator for MNIST and Fashion-MNIST,
            InceptionV3 for other images), "evaluator" (the dataset's shipped classifier, offline), "inception"
            (torchmetrics' InceptionV3, needs its weights) or "none" (no metrics: pictures only).
        kid_subset_size: images per KID subset (shrinks to what there is).
        seed: seed of the generated evaluation set (rank r uses seed + r).
    """

    def __init__(
        self, num_eval_samples: int = 10000, backbone: str = "auto", kid_subset_size: int = 1000, seed: int = 1234
    ):
        if num_eval_samples < 2:
            raise LitGansError(f"metrics.num_eval_samples must be >= 2 for FID's covariance, got {num_eval_samples}")
        if backbone not in BACKBONES:
            raise LitGansError(f"metrics.backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
        self.num_eval_samples, self.backbone, self.kid_subset_size, self.seed = (
            num_eval_samples,
            backbone,
            kid_subset_size,
            seed,
        )
        self.metrics: GenerativeMetrics | None = None
        self._real_done = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        dataset = dataset_of(trainer)  # the DataModule's: which evaluator, or Inception for images of your own
        if stage in ("fit", "validate") and self.metrics is None and resolve_backbone(self.backbone, dataset) != "none":
            with torch.random.fork_rng(devices=[]):  # building the evaluator must not shift the training noise
                self.metrics = GenerativeMetrics(self.backbone, self.kid_subset_size, dataset)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.metrics is not None:
            self.metrics.to(pl_module.device)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if self.metrics is not None and not trainer.sanity_checking and not self._real_done:
            self.metrics.update_real(batch[0])

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if self.metrics is not None:  # None: backbone "none", pictures only
            self._real_done = True
            world, rank = trainer.world_size, trainer.global_rank
            share = self.num_eval_samples // world + (rank < self.num_eval_samples % world)
            self.metrics.update_fake(pl_module.generate(share, seed=self.seed + rank))  # G is in eval mode here
            values = self.metrics.compute()  # every rank: torchmetrics gathers the states
            self.metrics.reset_fake()
            pl_module.log_dict({f"val/{name}": value for name, value in values.items()})
        if trainer.state.fn == "fit":  # every validation scalar at the step of the pictures (Lightning: one before)
            pl_module.log("step", float(trainer.global_step))


class GANCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes ``last.ckpt`` every ``every_n_train_steps`` steps *and* at every epoch end.

    Lightning makes the two triggers exclusive; a long run wants both (crash safety and a per-epoch snapshot).
    Takes ModelCheckpoint's arguments.
    """

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            if self._last_global_step_saved != trainer.global_step:
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class ValidateLastStep(Callback):
    """Validates after the last step when ``max_steps`` ends a run mid-epoch, so its final metrics and pictures are
    logged (Lightning would stop without): it asks the trainer to stop at that step, which Lightning answers with a
    validation. A last step that is validated anyway (an epoch end, a ``val_check_interval``) is validated once."""

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


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


class InterruptCheckpoint(Callback):
    """Saves ``last.ckpt`` beside the periodic checkpoints on Ctrl-C or SIGTERM, so ``--ckpt_path last`` resumes.

    Any other exception (a diverged loss, a bug) saves nothing: the last good checkpoint must stay intact.
    (Not Lightning's OnExceptionCheckpoint: its presence makes ``fit`` silently resume from "last".)
    """

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        checkpoint = trainer.checkpoint_callback
        if isinstance(exception, (KeyboardInterrupt, SIGTERMException)) and checkpoint and checkpoint.dirpath:
            trainer.save_checkpoint(Path(checkpoint.dirpath) / "last.ckpt")


class SampleWriter(BasePredictionWriter):
    """Writes ``predict``'s samples: a ``.pt`` file {"images": uint8 (N, C, H, W), plus labels/codes} and a PNG.

    Args:
        count: how many samples to generate.
        output: path of the samples file (a ``torch.save`` file, whatever its suffix); the PNG grid of the first 64
            goes beside it with a ``.png`` suffix (``samples.pt`` -> ``samples.png``), or ``.grid.png`` when
            ``output`` already ends in ``.png`` (``out.png`` -> ``out.grid.png``): never over the samples.
    """

    def __init__(self, count: int = 64, output: str = "samples.pt"):
        super().__init__(write_interval="epoch")
        if count < 1:
            raise LitGansError(f"samples.count must be >= 1, got {count}")
        self.count = count
        self.output = Path(output)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "predict":
            return
        folder = self.output.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise LitGansError(f"cannot write samples to {self.output}: {folder} is not a writable folder")

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        keys = predictions[0].keys()
        out = {k: torch.cat([p[k] for p in predictions]).cpu() for k in keys}
        out["images"] = to_uint8(out["images"])
        path = self.output
        if trainer.world_size > 1:  # each rank generated its own share; keep them apart rather than gather
            path = path.with_name(f"{path.stem}.rank{trainer.global_rank}{path.suffix}")
        torch.save(out, path)
        grid = make_grid(out["images"][:64].float() / 255, nrow=8, padding=2, pad_value=1.0)
        save_image(grid, grid_path(path))
        print(f"wrote {len(out['images'])} samples to {path} and a grid to {grid_path(path)}")


def grid_path(samples: Path) -> Path:
    """Where SampleWriter puts the PNG grid of ``samples``: beside it, under a name of its own."""
    png = samples.with_suffix(".png")
    return png if png != samples else samples.with_name(f"{samples.stem}.grid.png")


def default_callbacks(
    *, every_n_steps: int = 500, num_eval_samples: int = 10000, checkpoint_dir: str | None = None
) -> list[Callback]:
    """The callbacks a ``python -m lit_gans fit`` run gets, with the CLI's defaults, for a Trainer of your own.

    A fixed-noise sample grid (``SampleGrid``), FID/IS/KID at every validation (``GenerationMetrics``), ``last.ckpt``
    every ``every_n_steps`` steps and every epoch end (``GANCheckpoint``) and on Ctrl-C (``InterruptCheckpoint``), and
    a validation after a last step that falls mid-epoch (``ValidateLastStep``). A variant's own pictures
    (``LatentTraversal``, ``ClassGrid``), the predict writer and the CLI's timed ``ProgressBar`` are added by hand
    (the bar only where the Trainer shows one: Lightning refuses a bar callback with ``enable_progress_bar=False``).

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
    ]


class LatentTraversal(ImageCallback):
    """InfoGAN's Figure 2: what each code controls.

    ``traversal/categorical``: row k = value k of the first categorical code, columns = different noise.
    ``traversal/continuous_j``: row k = categorical value k, columns = continuous code j swept over [-span, span],
    with one fixed noise vector and the other codes at 0, so only the two codes change across the picture.

    Args:
        steps: columns per picture.
        span: sweep continuous codes over [-span, span] times the model's ``code_range`` (the prior is
            U(-code_range, code_range): a span beyond 1 extrapolates).
        every_n_steps, seed: see ``ImageCallback``.
    """

    def __init__(self, steps: int = 10, span: float = 2.0, every_n_steps: int = 500, seed: int = 0):
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
        every_n_steps, seed: see ``ImageCallback``.
    """

    def __init__(self, columns: int = 10, every_n_steps: int = 500, seed: int = 0):
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
        noise = torch.randn(self.columns, pl_module.hparams.latent_dim, generator=rng).repeat(k, 1)
        labels = torch.arange(k).repeat_interleave(self.columns)
        z = pl_module.latent(noise, labels).to(pl_module.device)
        return {"class_grid": (pl_module.sampling_generator(z), self.columns)}


class ProgressBar(TQDMProgressBar):
    """Lightning's progress bar, redrawn at most every ``min_interval`` seconds instead of after every batch.

    Lightning's bar forces a redraw and formats the metrics after each batch (tqdm's own rate limit is bypassed):
    about 0.3 ms a step, 1% of an MLP GAN step on a CPU and more than a whole step on a GPU. The CLI uses this bar
    unless ``trainer.callbacks`` names another one.

    Args:
        min_interval: seconds between redraws (the last batch of an epoch is always drawn).
        process_position, leave: see Lightning's ``TQDMProgressBar``.
    """

    def __init__(self, min_interval: float = 0.5, process_position: int = 0, leave: bool = False):
        super().__init__(refresh_rate=1, process_position=process_position, leave=leave)
        if min_interval < 0:
            raise LitGansError(f"ProgressBar.min_interval must be >= 0 seconds, got {min_interval}")
        self.min_interval = min_interval
        self._last_draw = -math.inf

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        now = time.monotonic()
        bar = self.train_progress_bar
        if now - self._last_draw >= self.min_interval or (bar is not None and batch_idx + 1 == bar.total):
            self._last_draw = now
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class CompileNetworks(Callback):
    """Compiles the generator and the discriminator with ``torch.compile`` before training (not the LightningModule:
    its Python step, logging and hooks stay eager, and checkpoints keep their keys).

    Usage: ``--trainer.callbacks+=lit_gans.callbacks.CompileNetworks``. The first steps are slow (compilation,
    and again for eval mode when pictures are drawn); afterwards G and D run as fused kernels. Compiles in place
    (``nn.Module.compile``), so the EMA copy, ``state_dict`` and DDP see the same modules.

    Args:
        mode: ``torch.compile`` mode: "default", "reduce-overhead" (CUDA graphs on a GPU) or "max-autotune".
        backend: ``torch.compile`` backend; "inductor" generates kernels (needs a C++ compiler on the CPU).
        dynamic: compile for varying batch sizes (None: torch decides after a size changes).
    """

    def __init__(self, mode: str = "default", backend: str = "inductor", dynamic: bool | None = None):
        self.mode, self.backend, self.dynamic = mode, backend, dynamic

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        options = {"backend": self.backend, "dynamic": self.dynamic}
        if self.backend == "inductor":
            options["mode"] = self.mode  # other backends take no mode
        for name in ("generator", "discriminator"):
            net = getattr(pl_module, name, None)
            if not isinstance(net, torch.nn.Module):
                raise LitGansError(f"CompileNetworks compiles pl_module.{name}; {type(pl_module).__name__} has none")
            net.compile(**options)
        head = getattr(pl_module.discriminator, "q", None)  # InfoGAN's Q head is called on its own, outside D
        if isinstance(head, torch.nn.Module):
            head.compile(**options)

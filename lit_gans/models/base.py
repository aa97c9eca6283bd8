"""Plumbing shared by every variant: optimizers, EMA, step counting, safety checks, sampling helpers.

Each variant writes its own ``training_step`` out in full; nothing here hides the GAN algorithm.
"""

import contextlib
import inspect

import torch
from lightning import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from lit_gans import pretrained
from lit_gans.data import describe_data, to_uint8
from lit_gans.errors import LitGansError
from lit_gans.lightning_private import leave_out_of_global_step, logger_writes_this_step


class GANModule(LightningModule):
    """Base class: two Adam optimizers under manual optimization, D then G every step.

    Subclasses build ``self.generator`` and ``self.discriminator``, then call ``self.init_ema()``.

    Args:
        img_shape: (C, H, W) of the images, or (2,) for the points of the 2D toy; linked from the DataModule by the CLI.
        num_classes: number of labels in the data, linked from the DataModule by the CLI.
        optimizer_g: the generator's optimizer; None means Adam(lr=paper_lr_g, betas=(0.5, 0.999)).
        optimizer_d: the discriminator's optimizer; None means Adam(lr=paper_lr_d, betas=(0.5, 0.999)).
        d_steps: discriminator updates per generator update (one D update per batch; G every d_steps batches);
            None: the variant's paper value, ``paper_d_steps``.
        ema_decay: keep an exponential moving average of G with this decay (None: off); used for sampling.
    """

    paper_lr_g = 2e-4  # Radford et al. 2015; subclasses override with their paper's values
    paper_lr_d = 2e-4
    paper_d_steps = 1  # the GAN paper's k: one D update per G update
    variant = "GAN"  # shown in messages about checkpoints of another variant
    _training_rng: dict | None = None  # the training RNG, set aside while validating

    def __init__(
        self,
        *,
        img_shape: tuple[int, ...] = (1, 28, 28),
        num_classes: int = 10,
        optimizer_g: OptimizerCallable | None = None,
        optimizer_d: OptimizerCallable | None = None,
        d_steps: int | None = None,
        ema_decay: float | None = None,
    ):
        super().__init__()
        self.automatic_optimization = False  # alternating D/G updates: we call the optimizers ourselves
        self.save_hyperparameters(ignore=["optimizer_g", "optimizer_d"])  # callables would not load weights_only
        self.d_steps = self.paper_d_steps if d_steps is None else d_steps
        if self.d_steps < 1:
            raise LitGansError(f"model.d_steps must be >= 1, got {d_steps}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise LitGansError(f"model.ema_decay must be in (0, 1) or null, got {ema_decay}; e.g. 0.999")
        self.optimizer_g = optimizer_g or self._paper_adam(self.paper_lr_g)
        self.optimizer_d = optimizer_d or self._paper_adam(self.paper_lr_d)
        for name, make in (("optimizer_g", self.optimizer_g), ("optimizer_d", self.optimizer_d)):
            try:  # fail now, with the option's name, rather than after the data has loaded
                lr = make([nn.Parameter(torch.zeros(1))]).param_groups[0]["lr"]
            except (ValueError, TypeError) as err:
                raise LitGansError(f"model.{name}: {err}; learning rates must be > 0 and betas in [0, 1)") from err
            if not lr > 0:  # torch accepts lr=0, which would silently train nothing
                raise LitGansError(f"model.{name}: learning rate must be > 0, got {lr}")
        self.generator_ema: AveragedModel | None = None
        self._pending_checks: list[tuple[str, torch.Tensor, int]] = []  # (name, loss, step), checked once a step
        self._frozen_by_optimizer: dict[tuple, list[nn.Parameter]] = {}  # toggle_optimizer's cache
        self._toggled: list[tuple[nn.Parameter, bool]] = []

    @classmethod
    def load_pretrained(cls, name: str | None = None, map_location: str | torch.device = "cpu") -> "GANModule":
        """A trained model of this variant shipped with lit_gans, in eval mode: ``InfoGAN.load_pretrained()``,
        ``InfoGAN.load_pretrained("infogan_fewlabel")``, ``GAN.load_pretrained("dcgan")`` (docs/pretrained.md).

        Args:
            name: the shipped model (``lit_gans.pretrained.names()``); None: the one named after the class
                (``infogan`` for InfoGAN, ``gan`` (the vanilla GAN) for GAN, ``acgan`` for ACGAN).
            map_location: the device to put it on.
        """
        name = name or cls.__name__.lower()
        model = pretrained.load(name, map_location)
        if not isinstance(model, cls):
            raise LitGansError(f"shipped model {name} is a {type(model).__name__}; load it with that class")
        return model

    @staticmethod
    def _paper_adam(lr: float) -> OptimizerCallable:
        return lambda params: torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))

    def init_ema(self) -> None:
        """Wraps a copy of G in AveragedModel (G only: D is never averaged); call after building the networks."""
        decay = self.hparams.ema_decay
        if decay is not None:
            self.generator_ema = AveragedModel(
                self.generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True
            ).requires_grad_(False)

    @property
    def sampling_generator(self) -> nn.Module:
        """The G used for pictures, metrics and predict: the EMA copy when there is one."""
        return self.generator_ema.module if self.generator_ema is not None else self.generator

    def configure_optimizers(self):
        opt_g = self.optimizer_g(self.generator.parameters())
        opt_d = self.optimizer_d(self.discriminator.parameters())
        return opt_g, opt_d

    def optimizers_counting_g_steps(self):
        """(opt_g, opt_d), with D's steps left out of ``trainer.global_step``: a step is one generator update, as the
        papers count them ("generator iterations"), so ``max_steps`` and ``every_n_steps`` mean G updates. Call it
        in ``training_step``: Lightning re-arms the step count of every optimizer before each batch."""
        opt_g, opt_d = self.optimizers()
        leave_out_of_global_step(opt_d)
        return opt_g, opt_d

    def backward_and_step(self, optimizer, loss: torch.Tensor, name: str) -> None:
        """One update of ``optimizer``'s network on ``loss`` (call inside ``toggled_optimizer``), its divergence check
        queued under ``name`` for ``finish_step``."""
        self.queue_finite_check(name, loss)
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()

    def update_ema(self) -> None:
        """Moves the EMA copy of G towards G (after each generator update); nothing when ``ema_decay`` is None."""
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

    def queue_finite_check(self, name: str, loss: torch.Tensor) -> None:
        """Queues a divergence check of ``loss``; ``finish_step`` (the last call of every ``training_step``) runs the
        step's checks together, with one host sync per step instead of one per loss (each sync idles a GPU)."""
        self._pending_checks.append((name, loss.detach(), self.global_step))

    def raise_if_diverged(self) -> None:
        """Raises if a loss queued by ``queue_finite_check`` this step is NaN/Inf. It runs before the step's callbacks,
        so no checkpoint is written after a diverged update and the last checkpoint on disk stays good."""
        checks, self._pending_checks = self._pending_checks, []
        if not checks:
            return
        finite = torch.isfinite(torch.stack([loss.float() for _, loss, _ in checks]))
        if not finite.all():  # the one host sync of the step
            name, loss, step = next(check for check, ok in zip(checks, finite.tolist(), strict=True) if not ok)
            raise LitGansError(
                f"training diverged at step {step}: {name}={loss.item():.4g}; the last checkpoint is "
                f"intact: resume from it with lower learning rates (--model.optimizer_g.init_args.lr ...)"
            )

    def finish_step(self, logs: dict[str, torch.Tensor]) -> None:
        """Ends a training step: raises if one of its losses diverged, then logs its scalars on the steps the logger
        writes (every ``log_every_n_steps``), not every step: each ``self.log`` value costs Lightning bookkeeping."""
        self.raise_if_diverged()
        if logger_writes_this_step(self.trainer):
            self.log_dict(logs, prog_bar=True)

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.raise_if_diverged()  # a variant whose training_step does not end in finish_step still gets its checks

    # ---- requires_grad toggling: Lightning's, with the parameter lists computed once ----------------------------

    def toggle_optimizer(self, optimizer) -> None:
        """Freezes the parameters of the other optimizers (``toggled_optimizer`` calls this around each update).

        Lightning's version walks every parameter of every optimizer into a fresh dict twice per update; the
        parameter lists do not change during fit, so the ones to freeze are listed once per optimizer."""
        optimizer = getattr(optimizer, "optimizer", optimizer)  # a LightningOptimizer wraps the torch one
        optimizers = self.trainer.optimizers
        key = (optimizer, *optimizers)  # by identity; emptied at each train start, so no old optimizer is kept
        if key not in self._frozen_by_optimizer:
            own = {id(p) for group in optimizer.param_groups for p in group["params"]}
            others = {id(p): p for opt in optimizers for g in opt.param_groups for p in g["params"] if id(p) not in own}
            self._frozen_by_optimizer[key] = list(others.values())
        frozen = self._frozen_by_optimizer[key]
        self._toggled = [(p, p.requires_grad) for p in frozen]
        for p in frozen:
            p.requires_grad = False

    def untoggle_optimizer(self, optimizer) -> None:
        """Restores what ``toggle_optimizer`` froze."""
        for p, flag in self._toggled:
            p.requires_grad = flag
        self._toggled = []

    def on_train_start(self) -> None:
        rank_zero_info(f"lit_gans: training {self.variant} from step {self.global_step}")
        self._frozen_by_optimizer.clear()  # a new fit has new optimizers
        # seed_everything gives every rank the same seed: offset it so each rank draws different noise
        if self.trainer.world_size > 1:
            base = int(torch.randint(2**31, (1,)))  # the same on every rank (same RNG state)
            torch.manual_seed(base + self.global_rank)

    # ---- sampling: variants say how G's input is drawn; training, pictures, metrics and predict draw through these

    def draw_noise(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """(n, latent_dim) noise z ~ N(0, I) from ``rng`` on its device (None: the global RNG, the model's device)."""
        device = rng.device if rng is not None else self.device
        return torch.randn(n, self.hparams.latent_dim, generator=rng, device=device)

    def sample_inputs(self, n: int, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """n generator inputs: {"z": G's input (n, ...), plus each condition a variant draws (labels, codes)}."""
        return {"z": self.draw_noise(n, rng)}

    def predict_inputs(self, indices: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """Inputs for ``predict`` of the samples numbered ``indices``; variants honour their predict options here."""
        return self.sample_inputs(len(indices), rng)

    @torch.no_grad()
    def sample(
        self, n: int, *, seed: int | None = None, uint8: bool = False, batch_size: int = 1000, **conditions
    ) -> torch.Tensor:
        """Draws n images from the sampling G (the EMA copy when there is one), in eval mode: what the pictures, the
        metrics and a user's script see.

        Conditions fix what a variant's latent takes besides the noise, by the names of its ``latent`` method:
        ``labels`` (AC-GAN, cGAN: class of each image), ``categories`` and ``codes`` (InfoGAN: the categorical and
        continuous codes). A condition is a value or tensor broadcast to what ``sample_inputs`` draws: ``labels=3``,
        ``categories=torch.arange(10).repeat_interleave(10)`` (one per image), ``codes=[0.5, -1.0]``. Conditions not
        given are drawn from the prior.

        Args:
            n: number of images.
            seed: seed of the noise and of the conditions not given (None: drawn from torch's global RNG).
            uint8: return uint8 in 0..255 (as ``predict`` writes) instead of float in [-1, 1].
            batch_size: images per generator call (inputs are drawn in the same chunks, so a seed gives the same
                images whatever ``n`` is beyond them).
            **conditions: see above; an unconditional variant (GAN, DCGAN, WGAN-GP) takes none.

        Returns:
            (n, C, H, W) images on the model's device.
        """
        if seed is None:
            seed = int(torch.randint(2**62, (1,)))
        z = self.latents(n, seed=seed, batch_size=batch_size, **conditions)
        generator = self.sampling_generator
        was_training = generator.training
        generator.eval()  # BatchNorm: running statistics, not the statistics of this batch
        try:
            images = torch.cat([generator(chunk.to(self.device)) for chunk in z.split(batch_size)])
        finally:
            generator.train(was_training)
        return to_uint8(images) if uint8 else images

    def latents(self, n: int, *, seed: int, batch_size: int = 1000, **conditions) -> torch.Tensor:
        """The (n, latent) generator inputs ``sample`` draws, on the CPU, in chunks of ``batch_size``: the noise from
        ``seed`` whatever the conditions, so that moving one condition changes nothing else (see ``sample``)."""
        rng = torch.Generator().manual_seed(seed)
        drawn = [self.sample_inputs(min(batch_size, n - start), rng) for start in range(0, n, batch_size)]
        inputs = {key: torch.cat([chunk[key] for chunk in drawn]) for key in drawn[0]}
        return self._condition_latent(inputs, conditions) if conditions else inputs["z"]

    def controls(self) -> list[dict]:
        """The conditions of ``sample`` a person can set, one entry per column (the explorer's buttons and sliders).

        Each entry: ``{"condition": name, "column": index or None (a condition of shape (n,)), "label": text}`` plus
        ``"choices": k`` (integers 0..k-1, drawn uniformly by the prior) or ``"range": [low, high]`` (floats: the
        prior's range); ``"class_names": True`` where value k means the data's class k. The entries of a condition
        cover all its columns, in order. Unconditional variants: none.
        """
        return []

    def _condition_latent(self, inputs: dict[str, torch.Tensor], conditions: dict) -> torch.Tensor:
        """Rebuilds ``inputs["z"]`` with some of its conditions replaced, through the variant's ``latent``.

        The convention this relies on, checked here: ``latent(noise, **conditions)`` puts the noise first, and
        ``sample_inputs`` returns each of ``latent``'s condition arguments under the same name.
        """
        names = [p for p in inspect.signature(self.latent).parameters][1:] if hasattr(self, "latent") else []
        unknown = sorted(set(conditions) - set(names))
        if unknown:
            takes = f"takes the conditions {', '.join(names)}" if names else "takes no conditions"
            raise LitGansError(f"{self.variant}.sample {takes}; got {', '.join(unknown)}")
        drawn = {name: inputs[name] for name in names}
        z = inputs["z"]
        noise = z[:, : z.size(1) - self.latent(z[:, :0], **drawn).size(1)]  # latent() of no noise: the rest's width
        if not torch.equal(self.latent(noise, **drawn), z):
            raise RuntimeError(f"{self.variant}.latent must put the noise first and sample_inputs name its conditions")
        for name, value in conditions.items():
            like = drawn[name]
            value = torch.as_tensor(value, dtype=like.dtype)
            if value.dim() == 1 and like.dim() == 2 and like.size(1) == 1 and len(value) == len(like):
                value = value[:, None]  # one value per image for a single column (e.g. one categorical code)
            try:
                drawn[name] = value.expand_as(like).clone()
            except RuntimeError as err:
                raise LitGansError(
                    f"{self.variant}.sample: {name} of shape {list(value.shape)} does not fit {list(like.shape)}; "
                    f"pass one value, or one per image"
                ) from err
        try:
            return self.latent(noise, **drawn)
        except RuntimeError as err:  # F.one_hot: a class or category out of range
            raise LitGansError(f"{self.variant}.sample: {', '.join(conditions)} out of range ({err})") from err

    def validation_step(self, batch, batch_idx):
        pass  # real batches reach the metrics callback through on_validation_batch_end; variants add measures

    def predict_step(self, batch: torch.Tensor, batch_idx: int) -> dict[str, torch.Tensor]:
        """``batch`` holds sample indices; the first index seeds the batch so results do not depend on devices."""
        rng = torch.Generator().manual_seed(int(batch[0]))
        inputs = self.predict_inputs(batch.cpu(), rng)
        images = self.sampling_generator(inputs.pop("z").to(self.device))
        return {"images": images, **inputs}

    # ---- checkpoints: refuse another variant's, restore the RNG for exact resumption --------------------------

    def on_validation_start(self) -> None:
        # validation draws random numbers (KID's subsets): set the training RNG aside so the noise of the next step
        # does not depend on whether a validation ran (a resumed run skips the one its checkpoint was saved before)
        self._training_rng = rng_state()

    def on_validation_end(self) -> None:
        set_rng_state(self._training_rng)
        self._training_rng = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        data = describe_data(self.trainer.datamodule, self.hparams.img_shape, self.hparams.num_classes)
        checkpoint["lit_gans"] = {"variant": self.variant, "data": data}  # data: predict and explore without it
        checkpoint["rng"] = self._training_rng or rng_state()  # what the next training step draws

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get("lit_gans", {}).get("variant", "an unknown model")
        if saved != self.variant:
            raise LitGansError(
                f"the checkpoint holds {saved} but the config builds {self.variant}; "
                f"pass the --config the checkpoint was trained with"
            )
        # img_shape and num_classes are linked from the DataModule: where they differ, other data is the cause
        trained = checkpoint.get("hyper_parameters", {})
        shape, classes = trained.get("img_shape"), trained.get("num_classes")
        data_fix = shape is not None and (
            f"the checkpoint was trained on {data_of(shape, classes)}, the data here are "
            f"{data_of(self.hparams.img_shape, self.hparams.num_classes)}; pass the --data options it was trained "
            f"with (for a folder of images: --data ImageFolderDataModule --data.root DIR --data.image_size "
            f"--data.channels)"
        )
        if data_fix and tuple(shape) != tuple(self.hparams.img_shape):
            raise LitGansError(data_fix)
        ours, theirs = self.state_dict(), checkpoint.get("state_dict", {})
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours or key not in theirs or ours[key].shape != theirs[key].shape:
                theirs_shape = list(theirs[key].shape) if key in theirs else "absent"
                ours_shape = list(ours[key].shape) if key in ours else "absent"
                if data_fix and classes != self.hparams.num_classes:  # a conditional network's label input
                    raise LitGansError(data_fix)
                raise LitGansError(
                    f"the checkpoint's {saved} does not match the config's networks ({key}: checkpoint "
                    f"{theirs_shape}, config {ours_shape}); pass the --model.* options it was trained with"
                )
        broken = [key for key, value in theirs.items() if value.is_floating_point() and not value.isfinite().all()]
        if broken:  # a diverged run never saves (raise_if_diverged): damaged bytes, or weights edited by hand
            raise LitGansError(
                f"the checkpoint's {broken[0]} holds NaN or Inf values ({len(broken)} tensor(s) in all), which "
                f"would draw blank or NaN images; use an earlier checkpoint of the run"
            )
        set_rng_state(checkpoint.get("rng", {}))


def data_of(img_shape, num_classes) -> str:
    """(3, 64, 64), 0 -> "3x64x64 images with no labels", for messages about a checkpoint's data; (2,), 8 -> "2-D
    points with 8 classes"."""
    labels = f"{num_classes} classes" if num_classes else "no labels"
    data = f"{img_shape[0]}-D points" if len(img_shape) == 1 else f"{'x'.join(map(str, img_shape))} images"
    return f"{data} with {labels}"


def rng_state() -> dict:
    """The global RNG streams training draws its noise from (the data order has its own, in ShuffledBatches)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def eval_mode(module: nn.Module):
    """Runs ``module`` in eval mode (BatchNorm's running statistics, as ``sample`` runs G), its own mode restored after:
    for reading images with D outside training."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)

"""FID, IS and KID of the sampling generator after every validation."""

import torch
from lightning import Callback, LightningModule, Trainer

from lit_gans.errors import LitGansError
from lit_gans.metrics import BACKBONES, GenerativeMetrics, dataset_of, resolve_backbone


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
            self.metrics.update_fake(pl_module.sample(share, seed=self.seed + rank))
            values = self.metrics.compute()  # every rank: torchmetrics gathers the states
            self.metrics.reset_fake()
            pl_module.log_dict({f"val/{name}": value for name, value in values.items()})
        if trainer.state.fn == "fit":  # every validation scalar at the step of the pictures (Lightning: one before)
            pl_module.log("step", float(trainer.global_step))

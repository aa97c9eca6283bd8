"""The 2D toy of the mode-collapse papers as a LightningDataModule: points drawn from a mixture of Gaussians, a ring of
8 (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018) or a 5x5 grid of 25, fresh samples every batch.

Points are not pixels: they stay in the mixture's own coordinates (the grid spans [-4, 4]), and the point networks
(``nets.PointGenerator``) end linear instead of in Tanh. The measures of these papers (modes covered, share of
high-quality samples) are ``measures.mode_coverage``; the pictures are ``callbacks.DiscriminatorMap``.
"""

import hashlib
import math
from typing import Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from lit_gans.errors import LitGansError

STD = {"ring": 0.01, "grid": 0.05}  # PacGAN's configs (2DRing, 2DGrid); GDPP's code, scored as VEEGAN, the same
VAL_SEED = 0  # the validation points are the same for every run, as a test split is


def mixture_centers(mixture: str) -> torch.Tensor:
    """(K, 2) means: 8 on the unit circle (ring), or the 25 points of {-4, -2, 0, 2, 4}^2 (grid)."""
    if mixture == "ring":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)  # 8 distinct angles, none repeated
        return torch.stack([angles.cos(), angles.sin()], dim=1).float()
    if mixture == "grid":
        side = torch.arange(-4.0, 5.0, 2.0)
        return torch.cartesian_prod(side, side)
    raise LitGansError(f"data.mixture must be ring or grid, got {mixture!r}")


def sample_mixture(
    centers: torch.Tensor, std: float, n: int, rng: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """n points of the equal-weight mixture N(centers[k], std^2 I): ((n, 2) points, (n,) the component of each)."""
    modes = torch.randint(len(centers), (n,), generator=rng)
    return centers[modes] + std * torch.randn(n, 2, generator=rng), modes


def batch_seed(seed: int, epoch: int, rank: int) -> int:
    """A seed per (run, epoch, rank), unrelated for neighbouring values: seed + epoch would give run 1 the batches of
    run 0's second epoch."""
    digest = hashlib.blake2b(f"{seed},{epoch},{rank}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % 2**63


class FreshBatches:
    """Training batches drawn fresh from the mixture, as the papers draw them: ``batches`` per epoch, seeded by (seed,
    epoch, rank), so a run is repeatable, each rank draws its own, and a run resumed mid-epoch (``state_dict``, as
    ``data.ShuffledBatches``) continues with the batch it would have drawn.

    Args:
        centers, std: the mixture.
        batch_size: points per batch; batches: batches per epoch.
        seed: the run's seed; epoch: a callable returning the current epoch; rank: this process.
    """

    def __init__(self, centers, std, batch_size, batches, seed, epoch, rank=0):
        self.centers, self.std, self.batch_size, self.batches = centers, std, batch_size, batches
        self.seed, self.epoch, self.rank = seed, epoch, rank
        self.drawn_epoch, self.drawn = 0, 0
        self.resume_at: tuple[int, int] | None = None

    def __len__(self) -> int:
        return self.batches

    def __iter__(self):
        epoch = self.epoch()
        skip = self.resume_at[1] if self.resume_at and self.resume_at[0] == epoch else 0
        self.resume_at, self.drawn_epoch, self.drawn = None, epoch, skip
        rng = torch.Generator().manual_seed(batch_seed(self.seed, epoch, self.rank))
        for i in range(len(self)):
            batch = sample_mixture(self.centers, self.std, self.batch_size, rng)  # drawn even when skipped: same stream
            if i < skip:
                continue
            self.drawn = i + 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.drawn_epoch, "batches": self.drawn}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed, self.resume_at = state["seed"], (state["epoch"], state["batches"])


class GaussianMixtureDataModule(L.LightningDataModule):
    """2D points from a ring of 8 or a grid of 25 Gaussians; a fixed set of points serves validation and test.

    Batches are (points (B, 2), component of each point (B,)); the components are the labels (``num_classes``), which
    the unconditional variants ignore. FID, IS and KID measure images and do not apply here (the metrics' ``auto``
    backbone is none); the measures of the papers are logged instead (``callbacks.ModeCoverage``).

    Args:
        mixture: "ring" (8 Gaussians on the unit circle, std 0.01) or "grid" (25 on {-4, -2, 0, 2, 4}^2, std 0.05), as
            PacGAN's code sets them; WGAN-GP's toy ring (radius 2, std 0.02, rescaled) is this ring at another scale.
        std: standard deviation of every component; None: the mixture's published value.
        batch_size: points per training batch on each device.
        batches_per_epoch: fresh batches that make an epoch (the data never run out; the epoch only paces Lightning).
        val_points: points of the fixed validation set (the same for every run and seed).
        val_batch_size: points per validation batch.
        predict_samples: how many samples ``predict`` generates (linked from ``--samples.count``).
    """

    dataset = "points"  # no images: the metrics' auto backbone is none

    def __init__(
        self,
        mixture: Literal["ring", "grid"] = "ring",
        std: float | None = None,  # None: 0.01 (ring) or 0.05 (grid)
        batch_size: int = 128,  # DCGAN's batch, as the other configs; PacGAN 100, WGAN-GP's toy 256, Unrolled 512
        batches_per_epoch: int = 1000,
        val_points: int = 2500,  # the papers measure 2,500 samples; as many real points for the pictures
        val_batch_size: int = 500,  # as the image DataModules' (the CLI carries it over from its default MNIST)
        predict_samples: int = 2500,
    ):
        super().__init__()
        self.centers = mixture_centers(mixture)
        self.std = STD[mixture] if std is None else std
        if not self.std > 0:
            raise LitGansError(f"data.std must be > 0, got {std}; null gives the benchmark's ({STD[mixture]})")
        for name, value in (("batch_size", batch_size), ("batches_per_epoch", batches_per_epoch),
                            ("val_points", val_points), ("val_batch_size", val_batch_size)):  # fmt: skip
            if value <= 0:
                raise LitGansError(f"data.{name} must be a positive integer, got {value}")
        if predict_samples <= 0:
            raise LitGansError(f"the sample count must be positive, got {predict_samples}; e.g. --samples.count 2500")
        self.save_hyperparameters()
        self.mixture = mixture
        self.img_shape = (2,)  # linked into the model by the CLI: G draws points, D reads points
        self.num_classes = len(self.centers)  # each point's component
        # the square pictured, [-extent, extent]^2: the modes and a margin of half the distance between neighbours
        self.extent = 1.5 if mixture == "ring" else 5.0
        self.val_set: TensorDataset | None = None

    def points(self, n: int, seed: int = VAL_SEED) -> torch.Tensor:
        """n real points (n, 2) drawn with ``seed``: what the pictures show beside G's."""
        return sample_mixture(self.centers, self.std, n, torch.Generator().manual_seed(seed))[0]

    def setup(self, stage: str) -> None:
        if self.val_set is None:
            generator = torch.Generator().manual_seed(VAL_SEED)
            self.val_set = TensorDataset(*sample_mixture(self.centers, self.std, self.hparams.val_points, generator))

    def train_dataloader(self) -> FreshBatches:
        trainer = self.trainer
        seed = int(torch.initial_seed()) % 2**31  # seed_everything's seed: the same on every rank
        epoch = (lambda: trainer.current_epoch) if trainer else (lambda: 0)
        rank = trainer.global_rank if trainer else 0
        hp = self.hparams
        return FreshBatches(self.centers, self.std, hp.batch_size, hp.batches_per_epoch, seed, epoch, rank)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.val_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        # predict generates: each "batch" is the indices of the samples to draw (index = seed offset)
        return DataLoader(torch.arange(self.hparams.predict_samples), batch_size=self.hparams.val_batch_size)

"""MNIST as a LightningDataModule, offline first: the repo ships the four original idx files (gzip)."""

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision.datasets import MNIST
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import extract_archive

from lit_gans.errors import LitGansError

FILES = {  # name -> expected first dimension
    "train-images-idx3-ubyte": 60000,
    "train-labels-idx1-ubyte": 60000,
    "t10k-images-idx3-ubyte": 10000,
    "t10k-labels-idx1-ubyte": 10000,
}


def raw_folder(data_dir: str | Path) -> Path:
    return Path(data_dir) / "MNIST" / "raw"


def extract_shipped(data_dir: str | Path) -> bool:
    """Extracts any ``.gz`` whose idx file is missing; returns True when all four idx files are there."""
    raw = raw_folder(data_dir)
    for name in FILES:
        gz = raw / f"{name}.gz"
        if not (raw / name).is_file() and gz.is_file():
            try:
                extract_archive(str(gz), str(raw))
            except (OSError, EOFError) as err:
                (raw / name).unlink(missing_ok=True)  # no half-written idx file left behind
                raise LitGansError(f"{gz} is corrupt ({err}); restore it from a fresh clone of lit_gans") from err
    return all((raw / name).is_file() for name in FILES)


def load_split(data_dir: str | Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Reads one split as (uint8 images [N, 28, 28], int64 labels [N]), checking every file's shape."""
    raw = raw_folder(data_dir)
    prefix = "train" if train else "t10k"
    tensors = []
    for kind, reader in (("images-idx3-ubyte", read_image_file), ("labels-idx1-ubyte", read_label_file)):
        path = raw / f"{prefix}-{kind}"
        try:
            tensor = reader(str(path))
        except Exception as err:  # torchvision asserts on a bad magic number, errors on a short file
            raise LitGansError(
                f"{path} is not a valid MNIST idx file ({type(err).__name__}: {err}); "
                f"delete it (and its .gz if corrupt) and restore it from a fresh clone of lit_gans"
            ) from err
        expected = FILES[path.name]
        if tensor.shape[0] != expected or (kind.startswith("images") and tuple(tensor.shape[1:]) != (28, 28)):
            raise LitGansError(
                f"{path} has shape {tuple(tensor.shape)}, expected {expected} items of 28x28; "
                f"delete it and restore it from a fresh clone of lit_gans"
            )
        tensors.append(tensor)
    images, labels = tensors
    return images, labels.long()


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W] in 0..255 -> float [N, 1, H, W] in [-1, 1], the range the generators' Tanh produces."""
    return images.unsqueeze(1).float().div(127.5).sub(1.0)


class DeviceBatches:
    """Shuffled training batches drawn from tensors that already live on the training device: no workers, no copies.

    Every epoch, all ranks draw the same permutation (seeded by ``seed + epoch``), then take every ``world``-th index
    from their ``rank``, as DistributedSampler does; batches are normalised to [-1, 1] on the device.

    Args:
        images: uint8 (N, 28, 28) on the device; labels: int64 (N,) on the device.
        batch_size: images per batch; the last incomplete batch is dropped.
        seed: base seed of the permutations; epoch: a callable returning the current epoch.
        rank, world: this process and the number of processes.
    """

    def __init__(self, images, labels, batch_size, seed, epoch, rank=0, world=1):
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.seed, self.epoch, self.rank, self.world = seed, epoch, rank, world

    def __len__(self) -> int:
        return (len(self.images) // self.world) // self.batch_size

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch())
        order = torch.randperm(len(self.images), generator=generator)
        mine = order[self.rank :: self.world][: len(self.images) // self.world].to(self.images.device)
        for i in range(len(self)):
            index = mine[i * self.batch_size : (i + 1) * self.batch_size]
            yield to_unit_range(self.images[index]), self.labels[index]


class MNISTDataModule(L.LightningDataModule):
    """MNIST in [-1, 1]; the 10k test split serves validation (metrics and pictures) and test.

    Args:
        data_dir: folder holding ``MNIST/raw``; the default is the copy shipped in this repo.
        batch_size: images per training batch on each device.
        val_batch_size: images per validation batch on each device.
        num_workers: DataLoader worker processes (0 loads in the training process: the data is in memory).
        download: let torchvision download MNIST when ``data_dir`` holds neither the idx files nor their .gz.
        predict_samples: how many samples ``predict`` generates (linked from ``--samples.count``).
        device_resident: keep the training split on the training device (47 MB as uint8) and draw batches there,
            without a DataLoader; for accelerators, where host-to-device copies and workers cost most.
    """

    img_shape = (1, 28, 28)  # linked into the model by the CLI
    num_classes = 10

    def __init__(
        self,
        data_dir: str = "data",  # relative to the working folder: run from the repo root
        batch_size: int = 128,  # DCGAN and InfoGAN papers
        val_batch_size: int = 500,  # validation only feeds metrics: bigger is faster
        num_workers: int = 0,  # in-memory tensors: workers only add start-up and copy cost
        download: bool = True,
        predict_samples: int = 64,
        device_resident: bool = False,
    ):
        super().__init__()
        for name, value in (("batch_size", batch_size), ("val_batch_size", val_batch_size)):
            if value <= 0:
                raise LitGansError(f"data.{name} must be a positive integer, got {value}; e.g. --data.{name} 128")
        if num_workers < 0:
            raise LitGansError(f"data.num_workers must be >= 0, got {num_workers}")
        if predict_samples <= 0:
            raise LitGansError(f"the sample count must be positive, got {predict_samples}; e.g. --samples.count 64")
        self.save_hyperparameters()
        self.data_dir = data_dir
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    def prepare_data(self) -> None:
        if extract_shipped(self.data_dir):
            return
        raw = raw_folder(self.data_dir)
        expected = ", ".join(f"{name}.gz" for name in FILES)
        if self.hparams.download and Path(self.data_dir).is_dir():
            try:  # users with internet and their own data_dir
                MNIST(self.data_dir, train=True, download=True)
                MNIST(self.data_dir, train=False, download=True)
                return
            except Exception as err:
                reason = f"download failed ({type(err).__name__})"
        else:
            reason = "the folder does not exist" if not Path(self.data_dir).is_dir() else "download is off"
        raise LitGansError(
            f"MNIST not found in {raw} and {reason}: put {expected} there "
            f"or pass --data.data_dir pointing to a folder that holds MNIST/raw"
        )

    def setup(self, stage: str) -> None:
        if not extract_shipped(self.data_dir):
            self.prepare_data()  # a Trainer that skipped prepare_data on this rank: same checks, same message
        if stage == "fit" and self.train_set is None:
            images, labels = load_split(self.data_dir, train=True)
            # device_resident keeps uint8 (4x smaller) and normalises per batch on the device
            self.train_set = TensorDataset(images if self.hparams.device_resident else to_unit_range(images), labels)
        if stage in ("fit", "validate", "test") and self.val_set is None:
            images, labels = load_split(self.data_dir, train=False)
            self.val_set = TensorDataset(to_unit_range(images), labels)

    def train_dataloader(self):
        if self.hparams.device_resident:
            device = self.trainer.strategy.root_device
            images, labels = (t.to(device) for t in self.train_set.tensors)
            seed = int(torch.initial_seed()) % 2**31  # seed_everything's seed: the same on every rank
            epoch = lambda: self.trainer.current_epoch  # noqa: E731
            rank, world = self.trainer.global_rank, self.trainer.world_size
            return DeviceBatches(images, labels, self.hparams.batch_size, seed, epoch, rank, world)
        return DataLoader(
            self.train_set,
            batch_size=self.hparams.batch_size,
            shuffle=True,
            drop_last=True,  # BatchNorm and the D/G balance both prefer full batches
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.val_batch_size, num_workers=self.hparams.num_workers)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        # predict generates: each "batch" is the indices of the samples to draw (index = seed offset)
        return DataLoader(torch.arange(self.hparams.predict_samples), batch_size=self.hparams.val_batch_size)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 0..255, the inverse of ``to_unit_range`` (for files users keep)."""
    return images.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)

"""MNIST and Fashion-MNIST as a LightningDataModule, offline first: the repo ships the four idx files (gzip) of each
in data/; ``ImageFolderDataModule`` trains on any folder of images."""

import os
import shutil
import tempfile
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision.datasets import MNIST, FashionMNIST
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import extract_archive
from torchvision.transforms import v2

from lit_gans.errors import LitGansError

FILES = {  # name -> expected first dimension
    "train-images-idx3-ubyte": 60000,
    "train-labels-idx1-ubyte": 60000,
    "t10k-images-idx3-ubyte": 10000,
    "t10k-labels-idx1-ubyte": 10000,
}
SHIPPED = Path(__file__).resolve().parents[1] / "data"  # the repo's data/, beside the package (clone, editable install)
DATASETS = {  # --data.dataset -> torchvision's class: its name is the folder under data_dir, its download the fallback
    "mnist": MNIST,  # LeCun et al. 1998: handwritten digits
    "fashion_mnist": FashionMNIST,  # Xiao et al. 2017: Zalando's clothes, MNIST's shape and split sizes
}


def user_cache() -> Path:
    """The per-user data folder, as torch hub and pip keep theirs: ``$XDG_CACHE_HOME/lit_gans`` or ``~/.cache/...``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lit_gans"


def default_data_dir(dataset: str = "MNIST") -> Path:
    """Where ``<dataset>/raw`` is looked up without ``--data.data_dir``, whatever the working folder: the repo's
    shipped copy when there is one, else the per-user cache (where a download goes)."""
    return SHIPPED if (SHIPPED / dataset / "raw").is_dir() else user_cache()


def raw_folder(data_dir: str | Path, dataset: str = "MNIST") -> Path:
    return Path(data_dir) / dataset / "raw"


def idx_bytes(name: str) -> int:
    """The exact size of an idx file: its header (magic, then one int32 per dimension) and one byte per value."""
    count = FILES[name]
    return 16 + count * 28 * 28 if "idx3" in name else 8 + count


def corrupt(path: Path, why: str) -> LitGansError:
    """A damaged data file: which one, and how to get it back."""
    if path.suffix != ".gz":
        fix = "delete it (the .gz beside it is extracted again, or the download fetches it)"
    elif path.is_relative_to(SHIPPED) and (SHIPPED.parent / ".git").exists():
        fix = f"restore it with: git -C {SHIPPED.parent} checkout -- {path.relative_to(SHIPPED.parent)}"
    else:
        fix = f"delete it and run again to download it, or copy it from lit_gans' data/{path.parent.parent.name}/raw"
    return LitGansError(f"{path} is corrupt ({why}); {fix}")


def extract_shipped(data_dir: str | Path, dataset: str = "MNIST") -> bool:
    """Extracts any ``.gz`` whose idx file is missing; returns True when all four idx files are there. Each is
    extracted into a private folder beside it and renamed into place whole, so runs started together on a fresh
    clone never read a half-written idx file (a reader that finds none extracts its own copy)."""
    raw = raw_folder(data_dir, dataset)
    for name in FILES:
        gz, idx = raw / f"{name}.gz", raw / name
        if idx.is_file() or not gz.is_file():
            continue
        if gz.stat().st_size == 0:
            raise corrupt(gz, "an empty file")
        with tempfile.TemporaryDirectory(dir=raw, prefix=f".{name}.") as part:  # removed whatever happens
            try:
                whole = Path(extract_archive(str(gz), part))
            except (OSError, EOFError) as err:
                raise corrupt(gz, str(err)) from err
            if (size := whole.stat().st_size) != idx_bytes(name):  # a whole gzip stream of a cut idx file
                raise corrupt(gz, f"it holds {size} bytes of {name}, expected {idx_bytes(name)}")
            os.replace(whole, idx)  # atomic on one file system: the name holds nothing or the whole file
    return all((raw / name).is_file() for name in FILES)


def shuffled_train_batches(datamodule: L.LightningDataModule) -> "ShuffledBatches":
    """The DataModule's ``train_set`` as ``ShuffledBatches``: a seeded order per epoch and rank, on the training device
    with ``device_resident``, else on the CPU (shared by every DataModule here). ``train_set`` is a ``TensorDataset``
    of (images, labels), or rows of larger images drawn in place (its ``images``, ``rows`` and ``labels``: an image
    folder's memory-mapped cache)."""
    trainer, hparams, train_set = datamodule.trainer, datamodule.hparams, datamodule.train_set
    device = trainer.strategy.root_device if trainer and hparams.device_resident else torch.device("cpu")
    if isinstance(train_set, TensorDataset):
        (images, labels), rows = train_set.tensors, None
    else:
        images, labels, rows = train_set.images, train_set.labels, train_set.rows
    if rows is not None and device.type != "cpu":  # only the training rows go to the device, a chunk at a time
        images, rows = gather_rows(images, rows, device), None
    seed = int(torch.initial_seed()) % 2**31  # seed_everything's seed: the same on every rank
    epoch = (lambda: trainer.current_epoch) if trainer else (lambda: 0)
    rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
    images, labels = images.to(device), labels.to(device)
    return ShuffledBatches(images, labels, hparams.batch_size, seed, epoch, rank, world, rows)


def gather_rows(images: torch.Tensor, rows: torch.Tensor, device: torch.device, chunk: int = 4096) -> torch.Tensor:
    """``images[rows]`` on ``device``, gathered a chunk at a time: no copy of all of them on the host on the way."""
    out = torch.empty((len(rows), *images.shape[1:]), dtype=images.dtype, device=device)
    for start in range(0, len(rows), chunk):
        out[start : start + chunk] = images[rows[start : start + chunk]].to(device)
    return out


def check_one_batch(datamodule: L.LightningDataModule, train_images: int) -> None:
    """Refuses a training set that gives no full batch on each process: Lightning would end the run at once, exit 0,
    having trained nothing ("No training batches"). ``ShuffledBatches`` drops the last incomplete batch."""
    trainer = datamodule.trainer
    world, batch = (trainer.world_size if trainer else 1), datamodule.hparams.batch_size
    if train_images // world >= batch:
        check_val_interval(trainer, train_images // world // batch)
        return
    if world == 1:
        raise LitGansError(
            f"{train_images} training images make no batch of {batch} (an incomplete batch is dropped), so nothing "
            f"would train; lower --data.batch_size to at most {train_images}"
        )
    raise LitGansError(
        f"{train_images} training images split over {world} processes leave {train_images // world} per process, no "
        f"batch of {batch} (an incomplete batch is dropped), so nothing would train; lower --data.batch_size to at "
        f"most {train_images // world}, or train on fewer devices"
    )


def check_val_interval(trainer, batches: int) -> None:
    """A ``val_check_interval`` of more batches than an epoch has (tiny.yaml's 20 on a folder of 80 images) would stop
    Lightning with a traceback; say it in one line, with the two ways out."""
    interval = trainer.val_check_interval if trainer else None
    if not isinstance(interval, int) or trainer.check_val_every_n_epoch is None or trainer.fast_dev_run:
        return  # a fraction of an epoch, or counted across epochs: always reachable
    limit = trainer.limit_train_batches
    batches = min(batches, limit) if isinstance(limit, int) else int(batches * limit)
    if interval > batches:
        raise LitGansError(
            f"--trainer.val_check_interval {interval} is more than the {batches} training batches of an epoch here; "
            f"lower it to at most {batches}, or pass --trainer.check_val_every_n_epoch null to count batches "
            f"across epochs"
        )


def load_split(data_dir: str | Path, train: bool, dataset: str = "MNIST") -> tuple[torch.Tensor, torch.Tensor]:
    """Reads one split as (uint8 images [N, 28, 28], int64 labels [N]), checking every file's size and shape; an idx
    file that is there only as its ``.gz`` (as ../shared/data ships them) is extracted first."""
    extract_shipped(data_dir, dataset)
    raw = raw_folder(data_dir, dataset)
    prefix = "train" if train else "t10k"
    tensors = []
    for kind, reader in (("images-idx3-ubyte", read_image_file), ("labels-idx1-ubyte", read_label_file)):
        path = raw / f"{prefix}-{kind}"
        if (size := path.stat().st_size) != idx_bytes(path.name):
            raise corrupt(path, f"{size} bytes, expected {idx_bytes(path.name)}")
        try:
            tensor = reader(str(path))
        except Exception as err:  # torchvision asserts on a bad magic number
            raise corrupt(path, f"not a valid idx file: {type(err).__name__}: {err}") from err
        expected = FILES[path.name]
        if tensor.shape[0] != expected or (kind.startswith("images") and tuple(tensor.shape[1:]) != (28, 28)):
            raise corrupt(path, f"shape {tuple(tensor.shape)}, expected {expected} items of 28x28")
        tensors.append(tensor)
    images, labels = tensors
    return images, labels.long()


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W] or [N, C, H, W] in 0..255 -> float [N, C, H, W] in [-1, 1], the range of the generators' Tanh."""
    images = images.unsqueeze(1) if images.dim() == 3 else images  # idx files hold one channel, without its axis
    return images.float().div(127.5).sub(1.0)


class ShuffledBatches:
    """Shuffled training batches drawn from in-memory tensors (on the CPU, or on the training device): no workers.

    Every epoch, all ranks draw the same permutation (seeded by ``seed + epoch``), then take every ``world``-th index
    from their ``rank``, as DistributedSampler does; batches are normalised to [-1, 1] where the tensors live.

    Resumable: Lightning saves ``state_dict()`` of a training iterable that has one in each checkpoint and hands it
    back to ``load_state_dict`` on resume. It holds the seed, the epoch and how many of its batches were drawn (the
    loop fetches no batch ahead when the length is known), so a run resumed mid-epoch continues with the next batch
    of the same permutation, exactly as if it had never stopped.

    Args:
        images: uint8 (N, H, W) or (N, C, H, W); labels: int64 (N,); on the device that should draw the batches.
        batch_size: images per batch; the last incomplete batch is dropped.
        seed: base seed of the permutations; epoch: a callable returning the current epoch.
        rank, world: this process and the number of processes.
        rows: the rows of ``images`` to draw from, in place (``labels`` then holds theirs, one per row); None: all.
            Drawing ``images[rows[i]]`` gives exactly the batches of ``images[rows]`` without copying them.
    """

    def __init__(self, images, labels, batch_size, seed, epoch, rank=0, world=1, rows=None):
        self.images, self.labels, self.batch_size, self.rows = images, labels, batch_size, rows
        self.seed, self.epoch, self.rank, self.world = seed, epoch, rank, world
        self.drawn_epoch, self.drawn = 0, 0  # the epoch being drawn and its batches drawn so far
        self.resume_at: tuple[int, int] | None = None  # (epoch, batches) to skip, from a checkpoint

    def __len__(self) -> int:
        return (len(self.labels) // self.world) // self.batch_size

    def __iter__(self):
        epoch = self.epoch()
        skip = self.resume_at[1] if self.resume_at and self.resume_at[0] == epoch else 0
        self.resume_at, self.drawn_epoch, self.drawn = None, epoch, skip
        generator = torch.Generator().manual_seed(self.seed + epoch)
        order = torch.randperm(len(self.labels), generator=generator)
        mine = order[self.rank :: self.world][: len(self.labels) // self.world].to(self.images.device)
        for i in range(skip, len(self)):
            index = mine[i * self.batch_size : (i + 1) * self.batch_size]
            self.drawn = i + 1
            images = self.images[index if self.rows is None else self.rows[index]]
            yield to_unit_range(images), self.labels[index]

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.drawn_epoch, "batches": self.drawn}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed, self.resume_at = state["seed"], (state["epoch"], state["batches"])


class MNISTDataModule(L.LightningDataModule):
    """MNIST or Fashion-MNIST in [-1, 1]; the 10k test split serves validation (metrics and pictures) and test.

    Args:
        data_dir: folder holding ``MNIST/raw`` (``FashionMNIST/raw``); None (the default) looks in the repo's ``data/``
            beside the package,
            then in the per-user cache ``~/.cache/lit_gans`` (``$XDG_CACHE_HOME``), from any working folder.
        batch_size: images per training batch on each device.
        val_batch_size: images per validation batch on each device.
        num_workers: worker processes of the validation/test DataLoaders (training batches are drawn in the
            training process from in-memory tensors; 0 is right for those too).
        download: let torchvision download MNIST when ``data_dir`` holds neither the idx files nor their .gz.
        predict_samples: how many samples ``predict`` generates (linked from ``--samples.count``).
        device_resident: keep the training split on the training device (47 MB as uint8) and draw batches there;
            for accelerators, where host-to-device copies cost most. Either way batches come from ``ShuffledBatches``.
        dataset: "mnist" or "fashion_mnist" (the same shape, sizes and files; each has its own shipped evaluator).
        holdout: take this many labelled images out of the training split (chosen by the seed) and validate on them
            instead of the test split, so that settings can be chosen without the test labels; 0: off.
    """

    img_shape = (1, 28, 28)  # linked into the model by the CLI
    num_classes = 10

    def __init__(
        self,
        data_dir: str | None = None,  # None: the repo's data/, else ~/.cache/lit_gans (any working folder)
        batch_size: int = 128,  # DCGAN and InfoGAN papers
        val_batch_size: int = 500,  # validation only feeds metrics: bigger is faster
        num_workers: int = 0,  # in-memory tensors: workers only add start-up and copy cost
        download: bool = True,
        predict_samples: int = 64,
        device_resident: bool = False,
        dataset: str = "mnist",  # the digits, as every config before Fashion-MNIST
        holdout: int = 0,  # 0: train on all 60k, validate on the 10k test split
    ):
        super().__init__()
        if dataset not in DATASETS:
            raise LitGansError(f"unknown data.dataset {dataset!r}; the choices are {', '.join(DATASETS)}")
        for name, value in (("batch_size", batch_size), ("val_batch_size", val_batch_size)):
            if value <= 0:
                raise LitGansError(f"data.{name} must be a positive integer, got {value}; e.g. --data.{name} 128")
        if num_workers < 0:
            raise LitGansError(f"data.num_workers must be >= 0, got {num_workers}")
        if predict_samples <= 0:
            raise LitGansError(f"the sample count must be positive, got {predict_samples}; e.g. --samples.count 64")
        if holdout < 0:
            raise LitGansError(f"data.holdout must be >= 0 training images, got {holdout}; e.g. 5000 (0: off)")
        self.save_hyperparameters()
        self.dataset = dataset  # picks the evaluator of the metrics and of the sample accuracy
        self.folder = DATASETS[dataset].__name__  # the folder under data_dir holding raw/: MNIST, FashionMNIST
        self.data_dir = Path(data_dir) if data_dir else default_data_dir(self.folder)
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.holdout_set: Dataset | None = None  # with holdout > 0: validation's images, taken out of training

    @property
    def class_names(self) -> list[str]:
        """The names of labels 0..9 (torchvision's: "0 - zero", "T-shirt/top"), shown by the explorer's buttons."""
        return list(DATASETS[self.dataset].classes)

    def prepare_data(self) -> None:
        if extract_shipped(self.data_dir, self.folder):
            return
        raw = raw_folder(self.data_dir, self.folder)
        self._refuse_misplaced_files()
        expected = ", ".join(f"{name}.gz" for name in FILES)
        if self.hparams.download and self.hparams.data_dir is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)  # the per-user cache is ours to create
        if self.hparams.download and self.data_dir.is_dir():
            created = next((d for d in (raw.parent, raw) if not d.exists()), None)  # torchvision makes <folder>/raw
            try:  # users with internet and their own data_dir
                DATASETS[self.dataset](self.data_dir, train=True, download=True)
                DATASETS[self.dataset](self.data_dir, train=False, download=True)
                return
            except Exception as err:
                reason = f"download failed ({type(err).__name__})"
                if created is not None:  # leave the user's folder as it was: no empty MNIST/raw behind
                    shutil.rmtree(created, ignore_errors=True)
        else:
            reason = "the folder does not exist" if not self.data_dir.is_dir() else "download is off"
        if self.hparams.data_dir is None and raw.parents[1] != SHIPPED:
            raw = f"{raw_folder(SHIPPED, self.folder)} or {raw}"  # both default places were looked in
        raise LitGansError(
            f"{self.folder} not found in {raw} and {reason}: put {expected} there "
            f"or pass --data.data_dir pointing to a folder that holds {self.folder}/raw"
        )

    def _refuse_misplaced_files(self) -> None:
        """``--data.data_dir`` pointing at the idx files' own folder (``MNIST/raw``) or at ``MNIST``: say which folder
        to pass, instead of looking in (and downloading into) ``raw/MNIST/raw``."""
        here = self.data_dir.resolve()
        for folder, top in ((here, here.parent), (here / "raw", here)):  # files in data_dir, or in data_dir/raw
            if not any((folder / name).is_file() or (folder / f"{name}.gz").is_file() for name in FILES):
                continue
            wanted = raw_folder(top.parent, self.folder)  # where they would be found with --data.data_dir top.parent
            fix = (
                f"pass --data.data_dir {top.parent}"
                if wanted == folder
                else f"move them to {raw_folder(top, self.folder)} and pass --data.data_dir {top}"
            )
            raise LitGansError(
                f"{folder} holds the {self.folder} files themselves, but lit_gans reads them from "
                f"<data.data_dir>/{self.folder}/raw; {fix}"
            )

    def setup(self, stage: str) -> None:
        if not extract_shipped(self.data_dir, self.folder):
            self.prepare_data()  # a Trainer that skipped prepare_data on this rank: same checks, same message
        if stage == "fit" and self.train_set is None:  # uint8 (4x smaller), normalised per batch
            self.train_set = TensorDataset(*load_split(self.data_dir, train=True, dataset=self.folder))
        if stage in ("fit", "validate", "test") and self.val_set is None:
            images, labels = load_split(self.data_dir, train=False, dataset=self.folder)
            self.val_set = TensorDataset(to_unit_range(images), labels)
        if stage in ("fit", "validate") and self.hparams.holdout and self.holdout_set is None:
            train = self.train_set.tensors if self.train_set else load_split(self.data_dir, True, self.folder)
            self.train_set, self.holdout_set = holdout_sets(*train, self.hparams.holdout)
        if stage == "fit":
            check_one_batch(self, len(self.train_set))

    def train_dataloader(self) -> ShuffledBatches:
        # not a DataLoader: a seeded order per epoch that can resume mid-epoch, and no per-image collation; the last
        # incomplete batch is dropped (BatchNorm and the D/G balance both prefer full batches)
        return shuffled_train_batches(self)

    def val_dataloader(self) -> DataLoader:
        val_set = self.holdout_set if self.hparams.holdout else self.val_set  # holdout: no test image is looked at
        return DataLoader(val_set, batch_size=self.hparams.val_batch_size, num_workers=self.hparams.num_workers)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.val_batch_size, num_workers=self.hparams.num_workers)

    def predict_dataloader(self) -> DataLoader:
        # predict generates: each "batch" is the indices of the samples to draw (index = seed offset)
        return DataLoader(torch.arange(self.hparams.predict_samples), batch_size=self.hparams.val_batch_size)


def random_shift(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """Each image of (B, C, H, W) in [-1, 1] moved by up to ``pixels`` in x and y, drawn per image, background (-1)
    coming in at the border; ``pixels`` 0 returns the batch as it is."""
    if not pixels:
        return images
    crop = v2.RandomCrop(images.shape[-2:], padding=pixels, fill=-1.0)  # a crop of the padded image
    return torch.stack([crop(image) for image in images])


def random_rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Each image of (B, C, H, W) in [-1, 1] turned about its centre by an angle drawn per image from
    U(-degrees, degrees), bilinear, background (-1) coming in at the corners; ``degrees`` 0 returns the batch as is.
    torchvision's bilinear fill leaves a faint grey line (down to -0.75) along the edge the corners come in by;
    ``random_shear`` avoids it. Kept here: the rotate config's measured runs were trained with it (fingerprint)."""
    if not degrees:
        return images
    turn = v2.RandomRotation(degrees, interpolation=v2.InterpolationMode.BILINEAR, fill=-1.0)
    return torch.stack([turn(image) for image in images])


def random_shear(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Each image of (B, C, H, W) in [-1, 1] sheared along x about its centre (its vertical strokes leaning) by an angle
    drawn per image from U(-degrees, degrees), bilinear, background (-1) coming in; ``degrees`` 0 returns the batch as
    is. Handwriting's slant is a shear more than a turn: a turn also tilts the horizontal strokes."""
    if not degrees:
        return images
    # sheared with 0 as background and no fill: torchvision's bilinear fill blends the fill into the border as
    # mask * image + (1 - mask) * fill, which leaves faint grey (-0.75) pixels where background should come in
    lean = v2.RandomAffine(degrees=0, shear=(-degrees, degrees), interpolation=v2.InterpolationMode.BILINEAR, fill=None)
    return torch.stack([lean(image) for image in images.add(1.0)]).sub(1.0)


def to_unit_interval(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> float [0, 1], what torchvision's ``make_grid``/``save_image`` and TensorBoard draw."""
    return images.float().add(1.0).div(2.0).clamp(0.0, 1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 0..255, the inverse of ``to_unit_range`` (for files users keep)."""
    return images.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


# ---- held-out and labelled slices of the training split (InfoGAN's screen and its few-label mode) ------------------


def split_holdout(n_total: int, holdout: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, held-out indices): a seeded random ``holdout`` of ``range(n_total)``, no overlap."""
    if not 0 <= holdout < n_total:
        raise LitGansError(f"data.holdout must be in 0..{n_total - 1} (the training split's size), got {holdout}")
    order = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return order[holdout:].sort().values, order[:holdout].sort().values


def holdout_sets(images: torch.Tensor, labels: torch.Tensor, holdout: int) -> tuple[TensorDataset, TensorDataset]:
    """Training images and labels (uint8) -> (the rest, uint8, to train on; ``holdout`` of them in [-1, 1])."""
    seed = int(torch.initial_seed()) % 2**31  # seed_everything's seed, as ShuffledBatches: the run's own slice
    train, held = split_holdout(len(labels), holdout, seed)
    return TensorDataset(images[train], labels[train]), TensorDataset(to_unit_range(images[held]), labels[held])


def labelled_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices of ``per_class`` examples of every label value (seeded, sorted by class), for few-label training."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for value in labels.unique(sorted=True):
        where = (labels == value).nonzero().squeeze(1)
        if len(where) < per_class:
            raise LitGansError(f"only {len(where)} training images of class {int(value)}; asked {per_class} per class")
        chosen.append(where[torch.randperm(len(where), generator=generator)[:per_class]])
    return torch.cat(chosen)


def describe_data(datamodule, img_shape, num_classes) -> dict:
    """What a checkpoint keeps of its data so that it can draw samples without it: the images' shape, the classes and
    their names, the dataset's name (which picks the shipped evaluator) and how pixels map to [-1, 1]."""
    names = getattr(datamodule, "class_names", None)
    return {
        "class_path": f"{type(datamodule).__module__}.{type(datamodule).__name__}" if datamodule else None,
        "dataset": getattr(datamodule, "dataset", None) or "mnist",  # a Trainer fed plain DataLoaders: MNIST's
        "img_shape": list(img_shape),
        "num_classes": int(num_classes),
        "class_names": [str(name) for name in names] if names is not None else None,
        "normalisation": "uint8 pixel p -> p / 127.5 - 1 (0 -> -1, 255 -> 1)",  # to_unit_range, for every dataset
    }


class SamplingData(L.LightningDataModule):
    """The data of a trained model without its images: shapes, class names and the dataset's name, from a checkpoint
    (``describe_data``). ``predict`` and ``explore`` use it, so they read no image and need no dataset on disk.

    Args:
        img_shape: (C, H, W) of the images the model draws.
        num_classes: classes of the data it was trained on (0: none).
        class_names: their names (None: numbers).
        dataset: the dataset's name ("mnist", "fashion_mnist", "image_folder").
        predict_samples: how many samples ``predict`` generates (linked from ``--samples.count``).
        val_batch_size: samples per ``predict`` batch.
    """

    def __init__(
        self,
        img_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        class_names: list[str] | None = None,
        dataset: str = "mnist",
        predict_samples: int = 64,
        val_batch_size: int = 500,
    ):
        super().__init__()
        if predict_samples <= 0:
            raise LitGansError(f"the sample count must be positive, got {predict_samples}; e.g. --samples.count 64")
        self.save_hyperparameters()
        self.img_shape, self.num_classes, self.dataset = tuple(img_shape), num_classes, dataset
        self.class_names = class_names

    def predict_dataloader(self) -> DataLoader:
        # predict generates: each "batch" is the indices of the samples to draw (index = seed offset)
        return DataLoader(torch.arange(self.hparams.predict_samples), batch_size=self.hparams.val_batch_size)

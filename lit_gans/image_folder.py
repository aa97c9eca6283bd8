"""Any folder of images as a LightningDataModule: torchvision's ``ImageFolder`` layout (one sub-folder per class) or a
flat folder of images (no labels), resized and centre-cropped to a square the networks take, in [-1, 1]; decoded once
into a cache on disk (``image_cache``)."""

import hashlib
import os
from functools import cached_property
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from PIL import Image
from torch.utils.data import DataLoader, Dataset, default_collate
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension
from torchvision.transforms import v2
from torchvision.transforms.v2.functional import pil_to_tensor

from lit_gans.data import ShuffledBatches, check_one_batch, shuffled_train_batches, to_unit_range, user_cache
from lit_gans.errors import LitGansError
from lit_gans.image_cache import ImageCache, file_stats
from lit_gans.nets import SIZES


def opens_as_image(path: Path) -> bool:
    """Whether Pillow reads ``path`` as an image, whatever its name (a GIF, a PNG saved as ``.dat``, ...)."""
    try:
        with Image.open(path) as image:
            image.load()  # a header alone is not enough: Pillow "opens" formats it cannot decode (HDF5, MPEG)
        return True
    except Exception:
        return False


class ImageFiles:
    """Decides which files are images, and keeps what the walk leaves out and why, to say it in one line.

    A file named as an image (torchvision's extensions: .png, .jpg, ...) is kept even if it cannot be read: decoding
    then stops with its name, since it is surely meant as data. Any other file is kept if Pillow reads it, else left
    out and counted. Hidden files (``.DS_Store``) are ignored without a word. Also left out and counted: links to a
    folder already read (a loop, or a second way to the same folder), links to nothing, folders that cannot be read.
    """

    def __init__(self):
        self.seen, self.skipped = 0, []
        self.repeats, self.broken, self.unreadable = [], [], []  # paths; unreadable: (path, why)

    def __call__(self, path: str) -> bool:
        name = os.path.basename(path)  # strings, not Paths: this runs once per file, a million times for some folders
        if name.startswith("."):
            return False
        self.seen += 1
        if has_file_allowed_extension(name, IMG_EXTENSIONS) or opens_as_image(Path(path)):
            return True
        self.skipped.append(path)
        return False

    def report(self, root: Path) -> None:
        """One line at start naming a few of the files left out, not a list of thousands."""

        def some(paths: list) -> str:
            names = ", ".join(str(Path(p).relative_to(root)) for p in paths[:3])
            return f"e.g. {names}{', ...' if len(paths) > 3 else ''}"

        def plural(n: int, word: str) -> str:
            return f"{n} {word}{'s' if n > 1 else ''}"

        parts = [f"{len(self.skipped)} of {self.seen} files in {root} that are not images ({some(self.skipped)})"]
        parts = parts if self.skipped else []
        if self.repeats:
            parts.append(
                f"{plural(len(self.repeats), 'link')} to a folder already read (a loop, or a second way to it), not "
                f"followed so that no image counts twice ({some(self.repeats)})"
            )
        if self.broken:
            parts.append(f"{plural(len(self.broken), 'link')} to nothing ({some(self.broken)})")
        if self.unreadable:
            why = ", ".join(f"{Path(p).relative_to(root)}: {reason}" for p, reason in self.unreadable[:3])
            parts.append(f"{plural(len(self.unreadable), 'folder')} that cannot be read ({why})")
        if parts:
            where = "" if self.skipped else f"in {root}, "
            rank_zero_info(f"lit_gans: {where}skipped {'; '.join(parts)}")


def walk(top: str, files: ImageFiles, read: set[str]) -> list[tuple[str, list[str]]]:
    """(folder, its file names) under ``top``, as ``sorted(os.walk(top, followlinks=True))`` lists them for
    torchvision's ``ImageFolder``, but a folder whose real path is in ``read`` (already read: a link back up is a
    loop, endless in ``os.walk``) is left out and counted, as are links to nothing and folders that cannot be read."""
    found, stack = [], [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as err:
            files.unreadable.append((folder, err.strerror or type(err).__name__))
            continue
        names, below = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # a link to a folder is followed
            except OSError:
                is_dir = False
            if not is_dir and entry.is_symlink() and not entry.name.startswith(".") and not os.path.exists(entry.path):
                files.broken.append(entry.path)
            elif not is_dir:
                names.append(entry.name)
            elif (real := os.path.realpath(entry.path)) in read:
                files.repeats.append(entry.path)
            else:
                read.add(real)  # marked when found: a real folder beside a link to it is read as itself
                below.append(entry.path)
        found.append((folder, names))
        stack.extend(reversed(below))  # depth first, in name order: which of two ways to a folder is read is fixed
    return sorted(found)


def class_folders(root: Path) -> list[str]:
    """The class names: the sub-folders of ``root``, sorted (none: a flat folder without labels). Reads no file."""
    if root.is_file():
        raise LitGansError(
            f"--data.root {root} is a file, not a folder; pass the folder that holds the images (one sub-folder "
            f"per class, or the images directly in it)"
        )
    if not root.is_dir():
        raise LitGansError(
            f"image folder {root} does not exist; pass --data.root pointing to a folder of images "
            f"(one sub-folder per class, or the images directly in it)"
        )
    return [entry.name for entry in entries(root) if entry.is_dir()]


def entries(root: Path) -> list[os.DirEntry]:
    """What ``root`` holds but hidden names (.ipynb_checkpoints, .DS_Store), sorted by name."""
    with os.scandir(root) as scan:
        return sorted((entry for entry in scan if not entry.name.startswith(".")), key=lambda entry: entry.name)


def find_images(root: Path) -> tuple[list[tuple[str, int]], list[str]]:
    """(image path, class index) pairs and the class names: one class per sub-folder, or none for a flat folder."""
    classes, top = class_folders(root), entries(root)
    is_image = ImageFiles()
    is_image.broken = [entry.path for entry in top if entry.is_symlink() and not os.path.exists(entry.path)]
    loose = [entry.path for entry in top if entry.is_file() and is_image(entry.path)]
    if classes and loose:
        raise LitGansError(
            f"{root} holds both images and sub-folders ({loose[0]}, {classes[0]}/); put every image in a class "
            f"sub-folder, or all of them directly in the folder (no labels)"
        )
    samples = [(path, 0) for path in loose]
    read = {os.path.realpath(root), *(os.path.realpath(root / name) for name in classes)}  # each read as itself
    for label, name in enumerate(classes):  # torchvision's ImageFolder order: by class, then by path
        for folder, files in walk(str(root / name), is_image, read):
            samples += [(path, label) for path in (os.path.join(folder, file) for file in files) if is_image(path)]
    found = {label for _, label in samples}
    empty = [name for label, name in enumerate(classes) if label not in found]
    if empty:
        raise LitGansError(
            f"{root}: Found no valid file for the classes {', '.join(empty)}; remove the empty sub-folder or add its "
            f"images"
        )
    if not samples:
        raise LitGansError(
            f"no images in {root} ({is_image.seen} files, none of them an image Pillow can read); "
            f"pass --data.root pointing to a folder of images"
        )
    is_image.report(root)
    return samples, classes


def read_image(image: Image.Image, mode: str) -> Image.Image:
    """An opened image as 8-bit ``mode`` ("RGB" or "L"), by one rule for every kind of file:

    - 16-bit and 32-bit integer grayscale (modes "I;16", "I"): 0..65535 scaled to 0..255; floating point ("F"):
      0..1 scaled to 0..255. (Pillow's own conversion clips instead: every value above 255 turns white.)
    - transparency (RGBA, LA, PA, or a palette/RGB/L image with a transparent colour): composited on black, so a
      transparent pixel is 0, "nothing there", whatever colour it happens to hide (often garbage), as premultiplied
      alpha has it; MNIST-like data is drawn on black too.
    - everything else (palette, 1-bit, CMYK, YCbCr, ...): Pillow's conversion (CMYK without colour management);
      grayscale from colour is Pillow's ITU-R 601 luma, colour from grayscale repeats it in R, G and B.

    A multi-frame file (an animated GIF, a TIFF stack) gives its first frame, where Pillow opens it.
    """
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        top = 1.0 if image.mode == "F" else 65535.0
        pixels = np.asarray(image, dtype=np.float64) * (255.0 / top)
        image = Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8), "L")
    elif image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return image.convert(mode)


class DecodedImages(Dataset):
    """Each image file decoded, converted to ``mode`` (``read_image``'s rule) and resized/cropped: (path, uint8
    (C, S, S) or the error text).

    An error is returned rather than raised, so the DataModule names the file in one line even from a worker process.
    """

    def __init__(self, samples: list[tuple[str, int]], size: int, mode: str):
        self.samples, self.mode = samples, mode
        # the shorter side to ``size``, then the centre: the whole width or height is kept, nothing is stretched
        self.transform = v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size)])

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor | str]:
        path = self.samples[index][0]
        try:
            with Image.open(path) as image:
                return path, pil_to_tensor(self.transform(read_image(image, self.mode)))
        except Exception as err:  # not an image, truncated, too large: whatever PIL says, the file is the problem
            return path, f"{type(err).__name__}: {err}"


class CachedRows(Dataset):
    """Rows ``rows`` of the decoded images (uint8 (N, C, S, S), memory-mapped from the cache file ``path``) with their
    ``labels``: a training or validation split drawn in place, never a copy of the images. Sent to a worker process as
    its path, and mapped again there; ``shuffled_train_batches`` draws from ``images``, ``rows`` and ``labels``."""

    def __init__(self, path: Path, labels: torch.Tensor, rows: torch.Tensor):
        self.path, self.labels, self.rows = path, labels, rows
        self._images: torch.Tensor | None = None

    @property
    def images(self) -> torch.Tensor:
        """Every row of the cache, (N, C, S, S), mapped on first use in each process."""
        if self._images is None:
            self._images = torch.from_numpy(np.load(self.path, mmap_mode="c"))  # copy-on-write: writable, never written
        return self._images

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):  # an int (a DataLoader's item) or a tensor of indices (InfoGAN's labelled subset)
        return self.images[self.rows[index]], self.labels[index]

    def __getstate__(self) -> dict:
        return {**vars(self), "_images": None}  # the path, not gigabytes of pixels


def unit_range_batch(items: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Collates uint8 images and labels, then maps the images to [-1, 1] (validation batches)."""
    images, labels = default_collate(items)
    return to_unit_range(images), labels


class ImageFolderDataModule(L.LightningDataModule):
    """Your own images in [-1, 1], decoded once into a cache on disk (uint8, memory-mapped on every run) and split into
    training and validation images. ``predict`` reads no image: the shapes and class names are all it needs.

    Labels come from the class sub-folders (AC-GAN and cGAN need them; the unconditional variants ignore them); a flat
    folder has none (``num_classes`` 0). The metrics' ``auto`` backbone is InceptionV3 here: there is no shipped
    evaluator of your images.

    Args:
        root: the folder: one sub-folder of images per class (torchvision's ``ImageFolder``), or images directly in it.
        image_size: side of the square images the networks get (28, 32 or 64): each image's shorter side is resized
            to it, then the centre is cropped.
        channels: 3 (RGB) or 1 (grayscale).
        val_fraction: share of the images held out for validation (the metrics' real statistics, the variants'
            measures), drawn with a fixed seed; 0 validates on the training images (FID against the training set).
        batch_size: images per training batch on each device.
        val_batch_size: images per validation batch on each device.
        num_workers: processes that decode the images into the cache (the first run, or files new since) and feed the
            validation batches.
        predict_samples: how many samples ``predict`` generates (linked from ``--samples.count``).
        device_resident: keep the training images on the training device and draw batches there.
        cache_dir: where the decoded images are kept (None: ``~/.cache/lit_gans/image_folders``, under
            ``$XDG_CACHE_HOME`` if set); image_size x image_size x channels bytes per image.
    """

    dataset = "image_folder"  # no shipped evaluator: metrics use InceptionV3 or none

    def __init__(
        self,
        root: str,
        image_size: int = 32,  # the smallest common size of colour GAN benchmarks (CIFAR-10)
        channels: int = 3,
        val_fraction: float = 0.1,  # like MNIST's 10k of 70k, roughly: enough real images for FID's statistics
        batch_size: int = 128,  # DCGAN's
        val_batch_size: int = 500,  # validation only feeds metrics: bigger is faster
        num_workers: int = 0,  # decoding runs once; workers pay off for thousands of large JPEGs
        predict_samples: int = 64,
        device_resident: bool = False,
        cache_dir: str | None = None,  # None: the per-user cache
    ):
        super().__init__()
        if image_size not in SIZES:
            sizes = ", ".join(map(str, SIZES))
            raise LitGansError(f"data.image_size must be one of {sizes} (what the networks take), got {image_size}")
        if channels not in (1, 3):
            raise LitGansError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        if not 0 <= val_fraction < 1:
            raise LitGansError(f"data.val_fraction must be in [0, 1), got {val_fraction}; e.g. 0.1")
        for name, value in (("batch_size", batch_size), ("val_batch_size", val_batch_size)):
            if value <= 0:
                raise LitGansError(f"data.{name} must be a positive integer, got {value}; e.g. --data.{name} 128")
        if num_workers < 0 or predict_samples <= 0:
            raise LitGansError("data.num_workers must be >= 0 and the sample count positive (--samples.count)")
        self.save_hyperparameters()
        self.root = Path(root).expanduser()
        self.classes = class_folders(self.root)  # now, from the names alone: num_classes is linked into the model
        self.img_shape = (channels, image_size, image_size)  # linked into the model by the CLI
        self.num_classes = len(self.classes)  # 0: no labels
        self.class_names = self.classes  # what the explorer calls label k: the k-th sub-folder
        self.train_set: CachedRows | None = None
        self.val_set: CachedRows | None = None

    @cached_property
    def samples(self) -> list[tuple[str, int]]:
        """(path, label) of every image: the folder is walked on first use (not by ``predict`` or the explorer)."""
        return find_images(self.root)[0]

    def cache_folder(self) -> Path:
        """Where this folder's decoded images are kept, at this size and channel count."""
        channels, size, _ = self.img_shape
        where = Path(self.hparams.cache_dir).expanduser() if self.hparams.cache_dir else user_cache() / "image_folders"
        real = self.root.resolve()
        key = hashlib.sha256(str(real).encode()).hexdigest()[:10]  # two folders of one name get two caches
        return where / f"{real.name}-{size}px-{'rgb' if channels == 3 else 'gray'}-{key}"

    def cached_images(self) -> ImageCache:
        """The cache of the decoded images, built (rows of changed or new files decoded) if it is not valid."""
        channels, size, _ = self.img_shape
        cache = ImageCache(self.cache_folder(), self.img_shape, file_stats([p for p, _ in self.samples], self.root))
        trainer = self.trainer
        if not cache.built() and (trainer is None or trainer.local_rank == 0):  # one builder per machine
            decoded = DecodedImages(self.samples, size, "RGB" if channels == 3 else "L")
            cache.build(decoded, self.hparams.num_workers, self.root.name)
        else:
            rank_zero_info(
                f"lit_gans: {len(self.samples):,} images of {self.root} read from the cache in {cache.folder} "
                f"(delete it to decode them again)"
            )
        if trainer is not None:
            trainer.strategy.barrier("lit_gans_image_cache")  # the other processes wait for the build
        return cache

    def setup(self, stage: str) -> None:
        if stage == "predict":
            return  # predict generates: img_shape and the class names are all it needs, and no image is read
        if self.train_set is None:
            seeded = torch.Generator().manual_seed(0)  # the same split always
            order = torch.randperm(len(self.samples), generator=seeded)
            held_out = round(len(self.samples) * self.hparams.val_fraction)
            val_index = order[:held_out] if held_out else order  # val_fraction 0: validate on the training images
            train_index = order[held_out:]
            if len(train_index) < self.hparams.batch_size:  # before any decoding
                raise LitGansError(
                    f"{self.root} has {len(train_index)} training images, fewer than one batch of "
                    f"{self.hparams.batch_size}; lower --data.batch_size (or --data.val_fraction), or add images"
                )
            cache = self.cached_images()
            labels = torch.tensor([label for _, label in self.samples])
            self.train_set = CachedRows(cache.path, labels[train_index], train_index)  # indices: the images stay put
            self.val_set = CachedRows(cache.path, labels[val_index], val_index)
        if stage == "fit":
            check_one_batch(self, len(self.train_set))  # per process: under DDP each rank gets its share

    def train_dataloader(self) -> ShuffledBatches:
        # as MNISTDataModule's: a seeded order per epoch that resumes mid-epoch, batches normalised where they live
        return shuffled_train_batches(self)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.val_set,
            batch_size=self.hparams.val_batch_size,
            num_workers=self.hparams.num_workers,
            collate_fn=unit_range_batch,  # uint8 read from the cache, [-1, 1] per batch
        )

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        # predict generates: each "batch" is the indices of the samples to draw (index = seed offset)
        return DataLoader(torch.arange(self.hparams.predict_samples), batch_size=self.hparams.val_batch_size)

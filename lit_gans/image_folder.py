"""Any folder of images as a LightningDataModule: torchvision's ``ImageFolder`` layout (one sub-folder per class) or a
flat folder of images (no labels), resized and centre-cropped to a square the networks take, in [-1, 1]."""

from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from PIL import Image
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension, make_dataset
from torchvision.transforms import v2
from torchvision.transforms.v2.functional import pil_to_tensor

from lit_gans.data import ShuffledBatches, check_one_batch, shuffled_train_batches, to_unit_range
from lit_gans.errors import LitGansError
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
    """Decides which files are images, counting and naming the others.

    A file named as an image (torchvision's extensions: .png, .jpg, ...) is kept even if it cannot be read: decoding
    then stops with its name, since it is surely meant as data. Any other file is kept if Pillow reads it, else left
    out and counted. Hidden files (``.DS_Store``) are ignored without a word.
    """

    def __init__(self):
        self.seen, self.skipped = 0, []

    def __call__(self, path: str) -> bool:
        path = Path(path)
        if path.name.startswith("."):
            return False
        self.seen += 1
        if has_file_allowed_extension(path.name, IMG_EXTENSIONS) or opens_as_image(path):
            return True
        self.skipped.append(path)
        return False

    def report(self, root: Path) -> None:
        """One line at start naming a few of the files left out, not a list of thousands."""
        if self.skipped:
            names = ", ".join(str(p.relative_to(root)) for p in self.skipped[:3])
            more = ", ..." if len(self.skipped) > 3 else ""
            rank_zero_info(
                f"lit_gans: skipped {len(self.skipped)} of {self.seen} files in {root} that are not images "
                f"(e.g. {names}{more})"
            )


def find_images(root: Path) -> tuple[list[tuple[str, int]], list[str]]:
    """(image path, class index) pairs and the class names: one class per sub-folder, or none for a flat folder."""
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
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))  # hidden: .ipynb_checkpoints, .DS_Store
    classes = [p.name for p in entries if p.is_dir()]
    is_image = ImageFiles()
    loose = [str(p) for p in entries if p.is_file() and is_image(p)]
    if classes and loose:
        raise LitGansError(
            f"{root} holds both images and sub-folders ({loose[0]}, {classes[0]}/); put every image in a class "
            f"sub-folder, or all of them directly in the folder (no labels)"
        )
    if not classes:
        samples = [(path, 0) for path in loose]
    else:
        try:  # torchvision's ImageFolder scan: every image under each sub-folder, recursively
            samples = make_dataset(str(root), {name: i for i, name in enumerate(classes)}, is_valid_file=is_image)
        except FileNotFoundError as err:  # a class sub-folder without images
            raise LitGansError(f"{root}: {err}; remove the empty sub-folder or add its images") from err
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


def unit_range_batch(items: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Collates uint8 images and labels, then maps the images to [-1, 1] (validation batches)."""
    images, labels = default_collate(items)
    return to_unit_range(images), labels


class ImageFolderDataModule(L.LightningDataModule):
    """Your own images in [-1, 1], decoded once into memory (uint8) and split into training and validation images.

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
        num_workers: processes that decode the images (once, at setup) and feed the validation batches.
        predict_samples: how many samples ``predict`` generates (linked from ``--samples.count``).
        device_resident: keep the training images on the training device and draw batches there.
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
        self.samples, self.classes = find_images(self.root)  # now: num_classes is linked into the model
        self.img_shape = (channels, image_size, image_size)  # linked into the model by the CLI
        self.num_classes = len(self.classes)  # 0: no labels
        self.class_names = self.classes  # what the explorer calls label k: the k-th sub-folder
        order = torch.randperm(len(self.samples), generator=torch.Generator().manual_seed(0))  # the same split always
        held_out = round(len(self.samples) * val_fraction)
        self.val_index = order[:held_out] if held_out else order  # val_fraction 0: validate on the training images
        self.train_index = order[held_out:]
        if len(self.train_index) < batch_size:
            raise LitGansError(
                f"{self.root} has {len(self.train_index)} training images, fewer than one batch of {batch_size}; "
                f"lower --data.batch_size (or --data.val_fraction), or add images"
            )
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None

    def decode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image as uint8 (N, C, S, S), with its label (N,); an unreadable file is a one-line error naming it."""
        channels, size, _ = self.img_shape
        decoded = DecodedImages(self.samples, size, "RGB" if channels == 3 else "L")
        loader = DataLoader(decoded, batch_size=None, num_workers=self.hparams.num_workers)  # one image at a time
        images = torch.empty(len(decoded), *self.img_shape, dtype=torch.uint8)
        for i, (path, image) in enumerate(loader):
            if isinstance(image, str):
                raise LitGansError(f"{path} is not a readable image ({image}); delete or replace it")
            images[i] = image
        return images, torch.tensor([label for _, label in self.samples])

    def setup(self, stage: str) -> None:
        if self.train_set is None:
            images, labels = self.decode()
            self.train_set = TensorDataset(images[self.train_index], labels[self.train_index])
            self.val_set = TensorDataset(images[self.val_index], labels[self.val_index])
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
            collate_fn=unit_range_batch,  # uint8 kept in memory, [-1, 1] per batch
        )

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        # predict generates: each "batch" is the indices of the samples to draw (index = seed offset)
        return DataLoader(torch.arange(self.hparams.predict_samples), batch_size=self.hparams.val_batch_size)

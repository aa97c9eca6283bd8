"""FID, IS and KID from torchmetrics on images in [-1, 1], with the dataset's evaluator or InceptionV3 as backbone.

The real-image statistics are accumulated once and kept; each evaluation then only feeds generated images.
Under DDP every process feeds its own shard and every process must call ``compute``: torchmetrics gathers
the states of all processes inside ``compute``, so each one gets the same, global value.
"""

import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance
from torchmetrics.utilities.data import dim_zero_cat

from lit_gans.data import to_uint8
from lit_gans.errors import LitGansError
from lit_gans.evaluator import WEIGHTS, Evaluator, load_evaluator

BACKBONES = ("auto", "evaluator", "inception", "none")  # auto: the dataset's evaluator when it has one, else Inception
NO_IMAGES = ("points",)  # datasets FID, IS and KID cannot measure (the 2D toy): auto means none
INCEPTION_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # the file torch-fidelity downloads


def dataset_of(trainer) -> str:
    """The dataset the trainer's DataModule names (its ``dataset``: "mnist", "fashion_mnist", "image_folder"); "mnist"
    without one (a Trainer fed plain DataLoaders), which is what every run measured before there were other datasets."""
    return getattr(getattr(trainer, "datamodule", None), "dataset", None) or "mnist"


def resolve_backbone(backbone: str, dataset: str) -> str:
    """ "auto" -> "evaluator" for a dataset that has a shipped evaluator, "none" for points, else "inception"; other
    names as given, except an image backbone on points, which is refused."""
    if backbone not in BACKBONES:
        raise LitGansError(f"metrics.backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
    if dataset in NO_IMAGES:
        if backbone not in ("auto", "none"):
            raise LitGansError(
                f"--metrics.backbone {backbone}: FID, IS and KID measure images, and the data are 2D points; use "
                f"--metrics.backbone none (the toy's own measures, val/modes and val/high_quality, are logged anyway)"
            )
        return "none"
    if backbone == "auto":
        return "evaluator" if dataset in WEIGHTS else "inception"
    return backbone


class EvaluatorFeatures(nn.Module):
    """A dataset's evaluator as a torchmetrics feature extractor: float images in [-1, 1] -> float32 features.

    Args:
        evaluator: a frozen evaluator, shared by the metrics so it is stored and moved once.
        output: "features" (128 penultimate activations, for FID and KID) or "logits" (10, for IS).
    """

    def __init__(self, evaluator: Evaluator, output: str = "features"):
        super().__init__()
        if output not in ("features", "logits"):
            raise LitGansError(f"EvaluatorFeatures output must be 'features' or 'logits', got {output!r}")
        self.evaluator = evaluator
        self.output = output
        # set, so torchmetrics reads the width instead of probing with a 299x299 dummy image
        self.num_features = evaluator.num_features if output == "features" else 10

    def train(self, mode: bool = True) -> "EvaluatorFeatures":
        return super().train(False)  # frozen: BatchNorm must keep using its running statistics

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # float32 even under bf16/fp16 autocast: low-precision features would blur FID and swamp KID's small values
        with torch.autocast(images.device.type, enabled=False):
            x = images.float().contiguous(memory_format=torch.channels_last)
            chunk = 256 if x.device.type == "cpu" else max(len(x), 1)  # CPU: small chunks stay in cache, ~2x faster
            head = self.evaluator.features if self.output == "features" else self.evaluator
            return torch.cat([head(part) for part in x.split(chunk)])


class _ClampedKID(KernelInceptionDistance):
    """KID whose subset size shrinks to the number of images there are, so short runs still get a value."""

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        # runs after torchmetrics gathered the features of all processes: these counts are global
        counts = [len(dim_zero_cat(state)) if len(state) else 0 for state in (self.real_features, self.fake_features)]
        if min(counts) < 2:
            raise LitGansError(f"KID needs at least 2 real and 2 generated images, got {counts[0]} and {counts[1]}")
        full_size, self.subset_size = self.subset_size, min(self.subset_size, *counts)
        try:
            return super().compute()
        finally:
            self.subset_size = full_size


def _build_inception(kid_subset_size: int) -> tuple[nn.Module, nn.Module, nn.Module]:
    try:  # torch-fidelity builds InceptionV3 and fetches its weights from GitHub unless they are cached
        return (
            FrechetInceptionDistance(feature=2048, reset_real_features=False),
            InceptionScore(),
            _ClampedKID(reset_real_features=False, subset_size=kid_subset_size),
        )
    except Exception as err:  # missing package, no network, corrupt cache: the fix is the same
        raise LitGansError(
            f"the Inception weights are not available offline ({type(err).__name__}: {err}); "
            f"pip install torch-fidelity and run once with internet, or copy {INCEPTION_WEIGHTS} "
            f"into $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints); "
            f"or --metrics.backbone evaluator (MNIST, Fashion-MNIST) or none (no metrics, pictures only)"
        ) from err


class GenerativeMetrics:
    """FID, IS (mean) and KID (mean) of generated images against real ones.

    A plain object, not an ``nn.Module``: held as an attribute of a LightningModule it adds nothing to the
    state dict or the checkpoint. So Lightning does not move it either: call ``.to(device)`` yourself.

    Args:
        backbone: "evaluator", the dataset's classifier shipped in this repo (fast, comparable between runs here),
            "inception", torchmetrics' InceptionV3 (comparable to papers; needs torch-fidelity and its weights), or
            "auto": the evaluator when ``dataset`` has one, else Inception.
        kid_subset_size: images per KID subset; shrinks to the images there are when fewer were fed.
        dataset: whose evaluator: "mnist" or "fashion_mnist" (``evaluator.WEIGHTS``).
    """

    def __init__(
        self,
        backbone: str = "evaluator",
        kid_subset_size: int = 1000,  # the KID paper's choice
        dataset: str = "mnist",
    ):
        if not isinstance(kid_subset_size, int) or kid_subset_size < 2:
            raise LitGansError(f"kid_subset_size must be an integer >= 2, got {kid_subset_size!r}")
        if backbone == "none":
            raise LitGansError(
                "GenerativeMetrics needs a backbone: evaluator, inception or auto ('none' is no metrics)"
            )
        self.backbone = backbone = resolve_backbone(backbone, dataset)
        with warnings.catch_warnings():  # IS and KID warn on every construction that they keep all features
            warnings.filterwarnings("ignore", message=".*will save all extracted features in buffer.*")
            if backbone == "evaluator":
                evaluator = load_evaluator(dataset=dataset)  # one instance behind all three metrics
                self.fid = FrechetInceptionDistance(EvaluatorFeatures(evaluator, "features"), reset_real_features=False)
                self.inception_score = InceptionScore(EvaluatorFeatures(evaluator, "logits"))
                self.kid = _ClampedKID(
                    EvaluatorFeatures(evaluator, "features"), reset_real_features=False, subset_size=kid_subset_size
                )
            else:
                self.fid, self.inception_score, self.kid = _build_inception(kid_subset_size)

    @property
    def metrics(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        return self.fid, self.inception_score, self.kid

    def to(self, device: torch.device | str) -> "GenerativeMetrics":
        for metric in self.metrics:
            metric.to(device)
        return self

    @property
    def has_real(self) -> bool:
        """Whether this process has fed real images since construction or ``reset_all``."""
        return bool(self.fid.real_features_num_samples > 0)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        if self.backbone == "inception":  # torchmetrics' InceptionV3 takes uint8 RGB and resizes to 299 itself
            if images.dim() != 4 or images.size(1) not in (1, 3):
                raise LitGansError(f"metrics expect images [N, 1 or 3, H, W] in [-1, 1], got {tuple(images.shape)}")
            return to_uint8(images).expand(-1, 3, -1, -1)
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
            raise LitGansError(
                f"the evaluator takes images of shape [N, 1, 28, 28] in [-1, 1], got {tuple(images.shape)}; "
                f"other images need --metrics.backbone inception (or none)"
            )
        return images

    def update_real(self, images: torch.Tensor) -> None:
        """Adds real images (float, [-1, 1]) to the kept real statistics of FID and KID."""
        images = self._prepare(images)
        self.fid.update(images, real=True)
        self.kid.update(images, real=True)

    def update_fake(self, images: torch.Tensor) -> None:
        """Adds generated images (float, [-1, 1]) to FID, KID and IS."""
        images = self._prepare(images)
        self.fid.update(images, real=False)
        self.kid.update(images, real=False)
        self.inception_score.update(images)

    def compute(self) -> dict[str, torch.Tensor]:
        """FID, IS and KID as float scalars; call it on every DDP process (it gathers their states)."""
        # IS and KID draw random subsets: a fixed seed makes them reproducible and equal on every process
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            kid_mean, _ = self.kid.compute()  # first: it checks the sample counts with a clear message
            is_mean, _ = self.inception_score.compute()
        return {"fid": self.fid.compute(), "is": is_mean, "kid": kid_mean}

    def reset_fake(self) -> None:
        """Forgets the generated images; the real statistics stay (``reset_real_features=False``)."""
        for metric in self.metrics:
            metric.reset()

    def reset_all(self) -> None:
        """Forgets the real statistics too, e.g. when the real data changes."""
        for metric in (self.fid, self.kid):
            metric.reset_real_features = True
            metric.reset()
            metric.reset_real_features = False
        self.inception_score.reset()

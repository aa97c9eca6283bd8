"""The variants' own measures, beside the image metrics: InfoGAN's code accuracy and the label-free mutual information
of its code, the sample accuracy of the class-conditional variants (AC-GAN, cGAN), and the 2D toy's modes covered and
share of high-quality samples."""

from collections.abc import Callable

import torch
from torchmetrics.classification import MulticlassAccuracy

from lit_gans.evaluator import WEIGHTS, load_evaluator
from lit_gans.losses import categorical_information


def best_map_accuracy(confusion: torch.Tensor) -> float:
    """Accuracy of cluster ids against labels under the best one-to-one mapping (Hungarian assignment).

    ``confusion[i, j]`` counts samples of label i assigned to cluster j, as torchmetrics' confusion matrix gives
    (rows: targets, columns: predictions). This is InfoGAN's measure: its categorical code is unsupervised, so
    code 3 may mean the digit 7; the best mapping is allowed, one code per digit.
    """
    from scipy.optimize import linear_sum_assignment

    counts = confusion.detach().double().cpu().numpy()
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / max(counts.sum(), 1.0))


def identity_accuracy(confusion: torch.Tensor) -> float:
    """Accuracy of cluster ids read as labels as they are, code k = digit k: the diagonal of the confusion matrix.

    The measure of InfoGAN's few-label mode, whose labelled examples tie code k to digit k; without labels the codes
    come in any order and this is near chance, so ``best_map_accuracy`` is the one to read there.
    """
    counts = confusion.detach().double()
    return float(counts.diagonal().sum() / counts.sum().clamp(min=1.0))


def code_mutual_information(probs: torch.Tensor) -> float:
    """I(code; image) of a categorical head's (N, k) probabilities on real images, in nats: H(mean p) - mean H(p).

    High when the head is confident per image (low mean H(p)) and uses every value evenly (high H(mean p)): at
    most ln k for a k-way code. A label-free screen for InfoGAN runs whose code merged two classes (one value unused
    or two values shared by the same images lowers both terms' gap).
    """
    return float(categorical_information(probs.double().clamp(min=1e-12).log()))  # log p: logits of p itself


def mode_coverage(
    points: torch.Tensor, centers: torch.Tensor, std: float, within: float = 3.0, min_count: int = 1
) -> tuple[int, float]:
    """(modes covered, share of high-quality samples) of generated points (N, 2) against a mixture's means (K, 2).

    VEEGAN's definitions (Srivastava et al. 2017; PacGAN's MetricLogger counts the same): a sample is of
    high quality if it lies within ``within`` = 3 standard deviations of the nearest mode; a mode is covered if it is
    the nearest mode of at least ``min_count`` = 1 high-quality sample. The papers draw 2,500 samples.
    """
    distance, nearest = torch.cdist(points.double(), centers.double()).min(dim=1)  # (N,): to each point's nearest mode
    good = distance <= within * std
    counts = torch.bincount(nearest[good], minlength=len(centers))  # high-quality samples per mode
    return int((counts >= min_count).sum()), float(good.double().mean()) if len(points) else 0.0


class SampleAccuracy(MulticlassAccuracy):
    """``val/sample_accuracy`` of class-conditional generators (AC-GAN, cGAN): are the samples of the asked class?

    The dataset's shipped evaluator classifies ``samples_per_class`` generated images of every class, drawn from a
    fixed seed, against the labels they were generated for. Under DDP each rank draws its share and ``compute`` syncs
    the counts. Data without an evaluator (a folder of your own images) has no sample accuracy: ``available`` says so.

    Args:
        num_classes: number of classes.
        samples_per_class: generated images per class at each measurement.
        seed: seed of the generated set (rank r uses seed + r).
        dataset: whose evaluator scores the samples (the variants set it from the DataModule when fitting).
    """

    def __init__(self, num_classes: int, samples_per_class: int = 1000, seed: int = 4321, dataset: str = "mnist"):
        super().__init__(num_classes, average="micro")
        self.samples_per_class, self.seed, self.dataset = samples_per_class, seed, dataset
        self._frozen = {}  # evaluators by dataset, in a dict: not submodules, so not in checkpoints

    @property
    def available(self) -> bool:
        """Whether ``dataset`` has an evaluator to score samples with."""
        return self.dataset in WEIGHTS

    @torch.no_grad()
    def measure(self, generate: Callable[[torch.Tensor, torch.Generator], torch.Tensor], rank: int = 0, world: int = 1):
        """The accuracy over all ranks; ``generate(labels, rng)`` returns images (n, C, H, W) in [-1, 1]."""
        if self.dataset not in self._frozen:
            self._frozen[self.dataset] = load_evaluator(dataset=self.dataset)
        evaluator = self._frozen[self.dataset].to(self.device)
        labels = torch.arange(self.num_classes).repeat(self.samples_per_class)[rank::world]  # this rank's share
        rng = torch.Generator().manual_seed(self.seed + rank)
        for chunk in labels.split(1000):
            self.update(evaluator(generate(chunk, rng)), chunk.to(self.device))
        value = self.compute()
        self.reset()
        return value

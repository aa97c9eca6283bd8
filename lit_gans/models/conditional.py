"""What the class-conditional variants (AC-GAN, cGAN) share: G's input [z, one-hot class], the classes drawn for
training, pictures and predict, and their common measure, ``val/sample_accuracy``."""

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info

from lit_gans.errors import LitGansError
from lit_gans.measures import SampleAccuracy
from lit_gans.metrics import dataset_of


class ClassConditional:
    """Mixin for a ``GANModule`` whose generator takes a class: ``class ACGAN(ClassConditional, GANModule)``. The
    variant builds its networks after ``super().__init__`` and calls ``log_sample_accuracy()`` after each validation.

    Args:
        latent_dim: noise variables z ~ N(0, I) (G's input adds the one-hot class).
        samples_per_class: generated images per class for ``val/sample_accuracy`` (the evaluator's accuracy on
            them against the asked labels).
        predict_classes: classes ``predict`` cycles through (None: all classes).
        **kwargs: what every variant takes: see ``GANModule``.
    """

    def __init__(
        self,
        latent_dim: int = 100,  # AC-GAN's CIFAR-10 model: 110 inputs = 100 noise + 10 class one-hot
        samples_per_class: int = 1000,
        predict_classes: list[int] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        hp = self.hparams
        if hp.latent_dim < 1 or hp.samples_per_class < 1:
            raise LitGansError("model.latent_dim and model.samples_per_class must be >= 1")
        if hp.num_classes < 2:  # an image folder without class sub-folders links 0
            raise LitGansError(
                f"{self.variant} needs labelled images of at least 2 classes, got {hp.num_classes}; "
                f"give the image folder one sub-folder per class, or train an unconditional variant"
            )
        classes = hp.predict_classes
        if classes is not None and not (classes and all(0 <= c < hp.num_classes for c in classes)):
            raise LitGansError(f"model.predict_classes must be a non-empty list of 0..{hp.num_classes - 1}")
        self.sample_accuracy = SampleAccuracy(hp.num_classes, hp.samples_per_class)

    def latent(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.cat([noise, F.one_hot(labels, self.hparams.num_classes).float()], dim=1)  # (B, latent + classes)

    def sample_inputs(self, n: int, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        noise = self.draw_noise(n, rng)
        device = rng.device if rng is not None else self.device
        labels = torch.randint(self.hparams.num_classes, (n,), generator=rng, device=device)  # uniform over classes
        return {"z": self.latent(noise, labels), "labels": labels}

    def controls(self) -> list[dict]:
        classes = self.hparams.num_classes  # one button per class, named by the data's class names
        return [{"condition": "labels", "column": None, "label": "class", "choices": classes, "class_names": True}]

    def predict_inputs(self, indices: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        classes = torch.tensor(self.hparams.predict_classes or range(self.hparams.num_classes))
        labels = classes[indices % len(classes)]  # sample i gets class i mod |classes|: balanced, reproducible
        return {"z": self.latent(self.draw_noise(len(indices), rng), labels), "labels": labels}

    def draw_classes(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Images of the given classes from the sampling G, noise from ``rng`` (what ``val/sample_accuracy`` scores)."""
        return self.sampling_generator(self.latent(self.draw_noise(len(labels), rng), labels).to(self.device))

    def setup(self, stage: str) -> None:
        self.sample_accuracy.dataset = dataset_of(self.trainer)  # its evaluator scores the samples
        if not self.sample_accuracy.available:
            rank_zero_info(
                f"lit_gans: no evaluator for {self.sample_accuracy.dataset}: val/sample_accuracy is not measured"
            )

    def log_sample_accuracy(self) -> None:
        """``val/sample_accuracy``: the dataset's evaluator on ``samples_per_class`` samples of each asked class."""
        if self.trainer.sanity_checking or not self.sample_accuracy.available:
            return
        accuracy = self.sample_accuracy.measure(self.draw_classes, self.global_rank, self.trainer.world_size)
        self.log("val/sample_accuracy", accuracy, prog_bar=True)

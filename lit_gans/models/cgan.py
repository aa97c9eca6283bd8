"""Conditional GAN (Mirza & Osindero 2014, arXiv 1411.1784): G(z, y) and D(x, y), the label given to both networks.

Networks: the InfoGAN MNIST networks, as AC-GAN uses, so that the two compare: G is AC-GAN's G, fed [z, one-hot(y)]
(concatenation, as the paper does). D is AC-GAN's trunk with a projection head (Miyato & Koyama 2018) in place of
the paper's concatenation: D(x, y) = w . h(x) + embed(y) . h(x). The label then meets D's learned features rather
than its pixels (a one-hot concatenated to a conv input only adds a per-class bias to the first layer), and it is
the form the log density ratio of real to fake pairs takes when p(y | x) is a softmax on features h(x).
Unlike AC-GAN, D has no classifier head: the label is an input, and D only says real or fake for that label.
"""

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info

from lit_gans import losses, nets
from lit_gans.errors import LitGansError
from lit_gans.metrics import SampleAccuracy, dataset_of
from lit_gans.models.base import GANModule


class CGAN(GANModule):
    """Conditional GAN: the minimax game on pairs (x, y), real images with their labels against G(z, y) with y drawn.

    Args:
        latent_dim: noise variables z ~ N(0, I) (G's input adds the one-hot class).
        samples_per_class: generated images per class for ``val/sample_accuracy`` (the evaluator's accuracy on
            them against the asked labels).
        predict_classes: classes ``predict`` cycles through (None: all classes).
        img_shape, num_classes, optimizer_g, optimizer_d, d_steps, ema_decay: see ``GANModule``.
    """

    variant = "CGAN"

    def __init__(
        self,
        latent_dim: int = 100,  # AC-GAN's: 100 noise + 10 one-hot = 110 inputs to G
        samples_per_class: int = 1000,
        predict_classes: list[int] | None = None,
        *,
        img_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        optimizer_g: OptimizerCallable | None = None,
        optimizer_d: OptimizerCallable | None = None,
        d_steps: int = 1,
        ema_decay: float | None = None,
    ):
        super().__init__(
            img_shape=img_shape,
            num_classes=num_classes,
            optimizer_g=optimizer_g,
            optimizer_d=optimizer_d,
            d_steps=d_steps,
            ema_decay=ema_decay,
        )
        if latent_dim < 1 or samples_per_class < 1:
            raise LitGansError("model.latent_dim and model.samples_per_class must be >= 1")
        if num_classes < 2:  # an image folder without class sub-folders links 0
            raise LitGansError(
                f"{self.variant} needs labelled images of at least 2 classes, got {num_classes}; "
                f"give the image folder one sub-folder per class, or train an unconditional variant"
            )
        if predict_classes is not None and not (predict_classes and all(0 <= c < num_classes for c in predict_classes)):
            raise LitGansError(f"model.predict_classes must be a non-empty list of 0..{num_classes - 1}")
        channels, size = nets.conv_shape(img_shape)
        self.generator = nets.InfoGANGenerator(latent_dim + num_classes, channels, size)
        self.discriminator = nets.ProjectionDiscriminator(num_classes, channels, size)
        self.sample_accuracy = SampleAccuracy(num_classes, samples_per_class)  # the same measure as AC-GAN's
        self.init_ema()

    def latent(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.cat([noise, F.one_hot(labels, self.hparams.num_classes).float()], dim=1)  # (B, latent + classes)

    def sample_inputs(self, n: int, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        device = rng.device if rng is not None else self.device
        noise = torch.randn(n, self.hparams.latent_dim, generator=rng, device=device)
        labels = torch.randint(self.hparams.num_classes, (n,), generator=rng, device=device)
        return {"z": self.latent(noise, labels), "labels": labels}

    def controls(self) -> list[dict]:
        classes = self.hparams.num_classes  # one button per class, named by the data's class names
        return [{"condition": "labels", "column": None, "label": "class", "choices": classes, "class_names": True}]

    def predict_inputs(self, indices: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        classes = torch.tensor(self.hparams.predict_classes or range(self.hparams.num_classes))
        labels = classes[indices % len(classes)]  # sample i gets class i mod |classes|: balanced, reproducible
        noise = torch.randn(len(indices), self.hparams.latent_dim, generator=rng)
        return {"z": self.latent(noise, labels), "labels": labels}

    def training_step(self, batch, batch_idx):
        real, labels = batch  # (B, 1, 28, 28) in [-1, 1], (B,) digit labels
        opt_g, opt_d = self.gan_optimizers()
        inputs = self.sample_inputs(real.size(0))
        fake_labels = inputs["labels"]  # uniform over classes, drawn afresh (not the batch's labels)
        fake = self.generator(inputs["z"])  # computed once, used by both updates

        # D: maximise log D(x, y) + log(1 - D(G(z, y'), y')), each image judged with its own label
        with self.toggled_optimizer(opt_d):
            d_real, d_fake = self.discriminator(real, labels), self.discriminator(fake.detach(), fake_labels)
            loss_d = losses.d_loss(d_real, d_fake)
            self.check_finite("loss/d", loss_d)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()
        logs = {"loss/d": loss_d, "D(x)": d_real.detach().sigmoid().mean(), "D(G(z))": d_fake.detach().sigmoid().mean()}

        # G: maximise log D(G(z, y'), y') (non-saturating): a fake must pass as a real digit of its asked class
        if (batch_idx + 1) % self.hparams.d_steps == 0:
            with self.toggled_optimizer(opt_g):
                loss_g = losses.g_loss(self.discriminator(fake, fake_labels))
                self.check_finite("loss/g", loss_g)
                opt_g.zero_grad(set_to_none=True)
                self.manual_backward(loss_g)
                opt_g.step()
            self.after_generator_step()
            logs["loss/g"] = loss_g
        self.log_train(logs)

    # ---- the measure: are the samples of the asked class? (shared with AC-GAN) ----------------------------------

    def setup(self, stage: str) -> None:
        self.sample_accuracy.dataset = dataset_of(self.trainer)  # its evaluator scores the samples
        if not self.sample_accuracy.available:
            rank_zero_info(
                f"lit_gans: no evaluator for {self.sample_accuracy.dataset}: val/sample_accuracy is not measured"
            )

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self.sample_accuracy.available:
            return
        accuracy = self.sample_accuracy.measure(self.draw_classes, self.global_rank, self.trainer.world_size)
        self.log("val/sample_accuracy", accuracy, prog_bar=True)

    def draw_classes(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Images of the given classes from the sampling G, noise from ``rng`` (what ``val/sample_accuracy`` scores)."""
        noise = torch.randn(len(labels), self.hparams.latent_dim, generator=rng)
        return self.sampling_generator(self.latent(noise, labels).to(self.device))

"""AC-GAN (Odena et al. 2017, arXiv 1610.09585): class-conditional G, and a D that also classifies.

Networks: the InfoGAN MNIST networks (Chen et al. 2016, Table 1), as the seed's author used: G takes
[z, one-hot(class)], D's trunk feeds two heads, source (real/fake) and class. The paper's own ImageNet/CIFAR nets
are larger; on 28x28 digits these are the natural, proven choice.
"""

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info
from torchmetrics.classification import MulticlassAccuracy

from lit_gans import losses, nets
from lit_gans.errors import LitGansError
from lit_gans.metrics import SampleAccuracy, dataset_of
from lit_gans.models.base import GANModule


class ACGAN(GANModule):
    """AC-GAN: L_S = source log-likelihood, L_C = class log-likelihood (on reals and fakes).

    D maximises L_S + L_C; G maximises L_C - L_S, with the non-saturating form of its source part.

    Args:
        latent_dim: noise variables z ~ N(0, I) (G's input adds the one-hot class).
        samples_per_class: generated images per class for ``val/sample_accuracy`` (the evaluator's accuracy on
            them against the asked labels).
        predict_classes: classes ``predict`` cycles through (None: all classes).
        img_shape, num_classes, optimizer_g, optimizer_d, d_steps, ema_decay: see ``GANModule``.
    """

    variant = "ACGAN"

    def __init__(
        self,
        latent_dim: int = 100,  # the paper: 110 inputs = 100 noise + 10 class one-hot (its CIFAR-10 model)
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
        self.discriminator = nets.ACGANDiscriminator(num_classes, channels, size)
        self.d_class_accuracy = MulticlassAccuracy(num_classes, average="micro")  # synced under DDP
        self.sample_accuracy = SampleAccuracy(num_classes, samples_per_class)
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
        real, labels = batch
        opt_g, opt_d = self.gan_optimizers()
        inputs = self.sample_inputs(real.size(0))
        fake_labels = inputs["labels"]
        fake = self.generator(inputs["z"])  # computed once, used by both updates

        # D: maximise L_S + L_C (class loss on real images with their labels and on fakes with the asked labels)
        with self.toggled_optimizer(opt_d):
            src_real, cls_real = self.discriminator(real)
            src_fake, cls_fake = self.discriminator(fake.detach())
            loss_s = losses.d_loss(src_real, src_fake)
            loss_c = losses.class_loss(cls_real, labels) + losses.class_loss(cls_fake, fake_labels)
            loss_d = loss_s + loss_c
            self.check_finite("loss/d", loss_d)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()
        logs = {
            "loss/d": loss_d,
            "loss/d_class": loss_c.detach(),
            "D(x)": src_real.detach().sigmoid().mean(),
            "D(G(z))": src_fake.detach().sigmoid().mean(),
        }

        # G: maximise L_C - L_S, i.e. minimise the non-saturating source loss plus the class loss of its fakes
        if (batch_idx + 1) % self.hparams.d_steps == 0:
            with self.toggled_optimizer(opt_g):
                src, cls = self.discriminator(fake)
                loss_g = losses.g_loss(src) + losses.class_loss(cls, fake_labels)
                self.check_finite("loss/g", loss_g)
                opt_g.zero_grad(set_to_none=True)
                self.manual_backward(loss_g)
                opt_g.step()
            self.after_generator_step()
            logs["loss/g"] = loss_g
        self.log_train(logs)

    # ---- measures: D's classifier on real digits, and whether samples are of the asked class --------------------

    def validation_step(self, batch, batch_idx):
        real, labels = batch
        _, cls_real = self.discriminator(real)
        self.d_class_accuracy.update(cls_real, labels)

    def setup(self, stage: str) -> None:
        self.sample_accuracy.dataset = dataset_of(self.trainer)  # its evaluator scores the samples
        if not self.sample_accuracy.available:
            rank_zero_info(
                f"lit_gans: no evaluator for {self.sample_accuracy.dataset}: val/sample_accuracy is not measured"
            )

    def on_validation_epoch_end(self) -> None:
        self.log("val/d_class_accuracy", self.d_class_accuracy.compute(), prog_bar=True)
        self.d_class_accuracy.reset()
        if self.trainer.sanity_checking or not self.sample_accuracy.available:
            return
        accuracy = self.sample_accuracy.measure(self.draw_classes, self.global_rank, self.trainer.world_size)
        self.log("val/sample_accuracy", accuracy, prog_bar=True)

    def draw_classes(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Images of the given classes from the sampling G, noise from ``rng`` (what ``val/sample_accuracy`` scores)."""
        noise = torch.randn(len(labels), self.hparams.latent_dim, generator=rng)
        return self.sampling_generator(self.latent(noise, labels).to(self.device))

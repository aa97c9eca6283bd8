"""AC-GAN (Odena et al. 2017, arXiv 1610.09585): class-conditional G, and a D that also classifies.

Networks: the InfoGAN MNIST networks (Chen et al. 2016, Table 1), as the seed's author used: G takes
[z, one-hot(class)], D's trunk feeds two heads, source (real/fake) and class. The paper's own ImageNet/CIFAR nets
are larger; on 28x28 digits these are the natural, proven choice.
"""

import torch
from torchmetrics.classification import MulticlassAccuracy

from lit_gans import losses, nets
from lit_gans.models.base import GANModule, eval_mode
from lit_gans.models.conditional import ClassConditional


class ACGAN(ClassConditional, GANModule):
    """AC-GAN: L_S = source log-likelihood, L_C = class log-likelihood (on reals and fakes).

    D maximises L_S + L_C; G maximises L_C - L_S, with the non-saturating form of its source part.

    Args:
        **kwargs: see ``ClassConditional`` (noise size, the measure's sample count, predict's classes), ``GANModule``.
    """

    variant = "ACGAN"
    reader = "D's class head: the probability of each class"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        num_classes = self.hparams.num_classes
        channels, size = nets.conv_shape(self.hparams.img_shape)
        self.generator = nets.ConvGenerator(self.hparams.latent_dim + num_classes, channels, size)  # [z, one-hot]
        self.discriminator = nets.ACGANDiscriminator(num_classes, channels, size)
        self.d_class_accuracy = MulticlassAccuracy(num_classes, average="micro")  # synced under DDP
        self.init_ema()

    def training_step(self, batch, batch_idx):
        real, labels = batch
        opt_g, opt_d = self.optimizers_counting_g_steps()
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
            self.backward_and_step(opt_d, loss_d, "loss/d")
        logs = {
            "loss/d": loss_d,
            "loss/d_class": loss_c.detach(),
            "D(x)": src_real.detach().sigmoid().mean(),
            "D(G(z))": src_fake.detach().sigmoid().mean(),
        }

        # G: maximise L_C - L_S, i.e. minimise the non-saturating source loss plus the class loss of its fakes
        if (batch_idx + 1) % self.d_steps == 0:
            with self.toggled_optimizer(opt_g):
                src, cls = self.discriminator(fake)
                loss_g = losses.g_loss(src) + losses.class_loss(cls, fake_labels)
                self.backward_and_step(opt_g, loss_g, "loss/g")
            self.update_ema()
            logs["loss/g"] = loss_g
        self.finish_step(logs)

    @torch.no_grad()
    def read_conditions(self, images: torch.Tensor) -> list[torch.Tensor]:
        """D's class head on images (B, C, H, W) in [-1, 1], real or drawn: [class probabilities (B, num_classes)], one
        tensor per ``controls()`` entry. D runs in eval mode."""
        with eval_mode(self.discriminator) as discriminator:
            return [discriminator(images.to(self.device))[1].softmax(dim=1)]

    # ---- measures: D's classifier on real digits, and whether samples are of the asked class --------------------

    def validation_step(self, batch, batch_idx):
        if self.discriminator is None:  # a shipped AC-GAN holds G only: its measure is the sample accuracy
            return
        real, labels = batch
        _, cls_real = self.discriminator(real)
        self.d_class_accuracy.update(cls_real, labels)

    def on_validation_epoch_end(self) -> None:
        if self.discriminator is not None:
            self.log("val/d_class_accuracy", self.d_class_accuracy.compute(), prog_bar=True)
        self.d_class_accuracy.reset()
        self.log_sample_accuracy()

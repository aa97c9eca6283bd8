"""Conditional GAN (Mirza & Osindero 2014, arXiv 1411.1784): G(z, y) and D(x, y), the label given to both networks.

Networks: the InfoGAN MNIST networks, as AC-GAN uses, so that the two compare: G is AC-GAN's G, fed [z, one-hot(y)]
(concatenation, as the paper does). D is AC-GAN's trunk with a projection head (Miyato & Koyama 2018) in place of
the paper's concatenation: D(x, y) = w . h(x) + embed(y) . h(x). The label then meets D's learned features rather
than its pixels (a one-hot concatenated to a conv input only adds a per-class bias to the first layer), and it is
the form the log density ratio of real to fake pairs takes when p(y | x) is a softmax on features h(x).
Unlike AC-GAN, D has no classifier head: the label is an input, and D only says real or fake for that label.
"""

import torch

from lit_gans import losses, nets
from lit_gans.models.base import GANModule, eval_mode
from lit_gans.models.conditional import ClassConditional


class CGAN(ClassConditional, GANModule):
    """Conditional GAN: the minimax game on pairs (x, y), real images with their labels against G(z, y) with y drawn.

    Args:
        **kwargs: see ``ClassConditional`` (noise size, the measure's sample count, predict's classes), ``GANModule``.
    """

    variant = "CGAN"
    reader = "D(x, y) for each class y: the logit that the image is a real one of class y (D has no classifier)"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        num_classes = self.hparams.num_classes
        channels, size = nets.conv_shape(self.hparams.img_shape)
        self.generator = nets.ConvGenerator(self.hparams.latent_dim + num_classes, channels, size)  # [z, one-hot]
        self.discriminator = nets.ProjectionDiscriminator(num_classes, channels, size)
        self.init_ema()

    def training_step(self, batch, batch_idx):
        real, labels = batch  # (B, 1, 28, 28) in [-1, 1], (B,) digit labels
        opt_g, opt_d = self.optimizers_counting_g_steps()
        inputs = self.sample_inputs(real.size(0))
        fake_labels = inputs["labels"]  # uniform over classes, drawn afresh (not the batch's labels)
        fake = self.generator(inputs["z"])  # computed once, used by both updates

        # D: maximise log D(x, y) + log(1 - D(G(z, y'), y')), each image judged with its own label
        with self.toggled_optimizer(opt_d):
            d_real, d_fake = self.discriminator(real, labels), self.discriminator(fake.detach(), fake_labels)
            loss_d = losses.d_loss(d_real, d_fake)
            self.backward_and_step(opt_d, loss_d, "loss/d")
        logs = {"loss/d": loss_d, "D(x)": d_real.detach().sigmoid().mean(), "D(G(z))": d_fake.detach().sigmoid().mean()}

        # G: maximise log D(G(z, y'), y') (non-saturating): a fake must pass as a real digit of its asked class
        if (batch_idx + 1) % self.d_steps == 0:
            with self.toggled_optimizer(opt_g):
                loss_g = losses.g_loss(self.discriminator(fake, fake_labels))
                self.backward_and_step(opt_g, loss_g, "loss/g")
            self.update_ema()
            logs["loss/g"] = loss_g
        self.finish_step(logs)

    @torch.no_grad()
    def read_conditions(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The class D reads in images (B, C, H, W) in [-1, 1], real or drawn: [D(x, y) for every class y (B,
        num_classes)], one tensor per ``controls()`` entry. D judges pairs and has no classifier: the y whose pair it
        finds most real is its reading (under the projection D, the argmax of embed(y) . h(x)). D runs in eval mode."""
        n, k = len(images), self.hparams.num_classes
        labels = torch.arange(k, device=self.device).repeat(n)  # (n * k,): every class for each image
        with eval_mode(self.discriminator) as discriminator:
            return [discriminator(images.to(self.device).repeat_interleave(k, dim=0), labels).view(n, k)]

    # ---- the measure: are the samples of the asked class? (shared with AC-GAN) ----------------------------------

    def on_validation_epoch_end(self) -> None:
        self.log_sample_accuracy()

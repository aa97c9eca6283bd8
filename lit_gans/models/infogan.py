"""InfoGAN (Chen et al. 2016, arXiv 1606.03657), MNIST setup of Table 1 and Appendix C.

G(z, c) with z 62 noise variables and codes c: one 10-way categorical, two continuous U(-1, 1). A network Q on D's
trunk predicts c from G(z, c); maximising a lower bound on I(c; G(z, c)) makes the codes mean something: on MNIST
the categorical code becomes the digit class without ever seeing a label.

Past the paper, each a constructor argument whose default is the paper's: the noise prior and its scale, the range of
the continuous codes, and a few-label mode (semi-supervised InfoGAN, Spurr et al. 2017) in which Q's categorical head
also learns from a few labelled real images, so that code k means digit k.
"""

import math

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from torchmetrics import CatMetric
from torchmetrics.classification import MulticlassConfusionMatrix

from lit_gans import losses, nets
from lit_gans.data import labelled_subset, random_rotate, random_shear, random_shift, to_unit_range
from lit_gans.errors import LitGansError
from lit_gans.measures import best_map_accuracy, code_mutual_information, identity_accuracy
from lit_gans.models.base import GANModule, eval_mode


class InfoGAN(GANModule):
    """InfoGAN: the GAN loss plus lambda_cat * CE(categorical codes) + lambda_cont * Gaussian NLL(continuous codes).

    Args:
        noise_dim: incompressible noise variables z.
        categorical: sizes of the categorical codes (the first is the one scored as digit class).
        continuous: number of continuous codes, each ~ U(-code_range, code_range).
        lambda_cat: weight of the categorical information term.
        lambda_cont: weight of the continuous information term.
        learn_cont_std: Q predicts a std per continuous code (else fixed to 1, the paper's default).
        predict_category: ``predict`` draws this value of the first categorical code (None: random).
        predict_codes: ``predict`` uses these continuous codes (None: random), one value per code.
        noise: the prior of z: "normal", N(0, noise_scale^2), or "uniform", U(-noise_scale, noise_scale).
        noise_scale: the scale of z's prior.
        code_range: the continuous codes' prior is U(-code_range, code_range).
        labelled_per_class: few-label mode: this many labelled real training images per class (chosen by the seed)
            teach Q's first categorical head by cross-entropy, so code k means class k; 0: unsupervised InfoGAN.
        lambda_label: weight of that cross-entropy in D/Q's loss.
        label_batch_size: labelled images per D/Q update (all of them when there are fewer).
        shift: each labelled image, and the consistency term's copy of the real batch, is moved by up to this many
            pixels in x and y (drawn anew each time Q sees it, the border filled with background), so that Q learns
            digits, not memorised pictures; 0: as they are.
        rotate: each image ``shift`` moves is also turned by up to this many degrees either way (drawn per image), so
            that what Q learns to ignore includes a digit's slant; 0: not turned.
        shear: each image ``shift`` moves is also sheared along x by up to this many degrees either way (drawn per
            image): its vertical strokes lean as handwriting's slant does, the horizontal ones stay; 0: not sheared.
        lambda_real_info: weight of Q's information on the real batch (``losses.categorical_information`` of its first
            categorical head, maximised in D/Q's update), so that unlabelled real images teach Q as well as fakes;
            0: the paper's InfoGAN, where Q learns from fakes only.
        move_fakes: in Q's update, the categorical information term reads a moved copy (``shift``, ``rotate``,
            ``shear``) of each fake, so Q learns to read the code only by what moving does not change (a digit, not its
            slant), and G, still scored by Q on its fakes as drawn, can make its code values readable only by that;
            the continuous codes are read from the fakes as drawn. One more D pass per step; False: the paper's.
        lambda_consistency: weight of the KL divergence of Q's first categorical head on a moved copy (``shift``,
            ``rotate``, ``shear``) of the real batch from its fixed prediction on the batch itself: a moved digit stays
            itself.
        **kwargs: what every variant takes (optimizers, ``d_steps``, ``ema_decay``, data shapes): see ``GANModule``.
    """

    paper_lr_g = 1e-3  # Appendix C: "learning rate 2e-4 for D and 1e-3 for G"
    paper_lr_d = 2e-4
    variant = "InfoGAN"
    reader = "Q, the code reader on D's trunk: the probability of each category, the mean of each continuous code"

    def __init__(
        self,
        noise_dim: int = 62,  # Appendix C, MNIST
        categorical: list[int] = [10],  # noqa: B006 (read-only; jsonargparse shows list defaults)
        continuous: int = 2,
        lambda_cat: float = 1.0,  # paper: lambda = 1 for discrete codes
        lambda_cont: float = 0.1,  # paper: smaller for continuous codes, so the NLL does not dwarf the GAN loss
        learn_cont_std: bool = False,
        predict_category: int | None = None,
        predict_codes: list[float] | None = None,
        noise: str = "normal",  # the paper's z ~ N(0, I); "uniform" is U(-1, 1), as the authors' code draws it
        noise_scale: float = 1.0,  # ClusterGAN draws z ~ N(0, 0.1^2), so that the noise cannot carry the class
        code_range: float = 1.0,  # the paper's U(-1, 1); a smaller range lets a continuous code morph digits less
        labelled_per_class: int = 0,  # 0: the paper's unsupervised InfoGAN; 10: 100 labels (Spurr et al. 2017)
        lambda_label: float = 1.0,  # the same weight as the categorical information term
        label_batch_size: int = 64,  # half a batch of 128 next to the fakes: a small cost per step
        shift: int = 0,  # 0: the labelled images as they are (Spurr et al.); 2: up to 2 pixels either way
        rotate: float = 0.0,  # 0: moved images are not turned; 15: by up to 15 degrees either way
        shear: float = 0.0,  # 0: moved images are not sheared; 20: their vertical strokes lean by up to 20 degrees
        lambda_real_info: float = 0.0,  # 0: Q sees fakes only (the paper); > 0: also real images, label-free
        lambda_consistency: float = 0.0,  # 0: no moved copies of the real batch; > 0 needs shift, rotate or shear
        move_fakes: bool = False,  # False: Q reads the code from the fakes as drawn (the paper)
        **kwargs,
    ):
        super().__init__(**kwargs)
        img_shape, num_classes = self.hparams.img_shape, self.hparams.num_classes
        nets.conv_shape(img_shape)  # images only: points get their one-line error before the checks below read H, W
        if not categorical or min(categorical) < 2:
            raise LitGansError(f"model.categorical needs at least one code of size >= 2, got {categorical}; e.g. [10]")
        if noise_dim < 1 or continuous < 0 or lambda_cat < 0 or lambda_cont < 0:
            raise LitGansError("model.noise_dim must be >= 1; continuous, lambda_cat and lambda_cont >= 0")
        if predict_category is not None and not 0 <= predict_category < categorical[0]:
            raise LitGansError(f"model.predict_category must be in 0..{categorical[0] - 1}, got {predict_category}")
        if predict_codes is not None and len(predict_codes) != continuous:
            raise LitGansError(f"model.predict_codes needs {continuous} values (one per code), got {predict_codes}")
        if noise not in ("normal", "uniform"):
            raise LitGansError(f"model.noise must be 'normal' or 'uniform', got {noise!r}")
        if not noise_scale > 0 or not code_range > 0:
            raise LitGansError(f"model.noise_scale and code_range must be > 0, got {noise_scale} and {code_range}")
        if labelled_per_class < 0 or lambda_label < 0 or label_batch_size < 2 or lambda_real_info < 0:
            raise LitGansError(
                "model.labelled_per_class, lambda_label and lambda_real_info must be >= 0, label_batch_size >= 2"
            )
        if not 0 <= shift < min(img_shape[1:]) // 2:  # a move of half the image or more leaves no digit
            raise LitGansError(f"model.shift must be in 0..{min(img_shape[1:]) // 2 - 1} pixels, got {shift}")
        if not 0 <= rotate < 90:  # a quarter turn makes one digit another's likeness (6 and 9)
            raise LitGansError(f"model.rotate must be in [0, 90) degrees, got {rotate}")
        if not 0 <= shear < 45:  # at 45 degrees a stroke lies along its neighbour's row
            raise LitGansError(f"model.shear must be in [0, 45) degrees, got {shear}")
        if lambda_consistency < 0 or (lambda_consistency and not (shift or rotate or shear)):
            raise LitGansError(
                f"model.lambda_consistency must be >= 0 and needs shift, rotate or shear > 0 (a moved copy to agree "
                f"with), got {lambda_consistency} with shift {shift}, rotate {rotate} and shear {shear}"
            )
        if move_fakes and not (shift or rotate or shear):
            raise LitGansError(
                "model.move_fakes needs shift, rotate or shear > 0 (the fakes' copies are moved by them)"
            )
        if labelled_per_class and categorical[0] != num_classes:  # code k is taught to mean class k
            raise LitGansError(f"model.labelled_per_class: the first categorical code's size must be {num_classes}")
        self.input_dim = noise_dim + sum(categorical) + continuous  # G's input: [z, one-hot codes, continuous]
        channels, size = nets.conv_shape(img_shape)
        self.generator = nets.ConvGenerator(self.input_dim, channels, size)
        self.discriminator = nets.InfoGANDiscriminator(categorical, continuous, learn_cont_std, channels, size)
        self.code_confusion = MulticlassConfusionMatrix(max(categorical[0], num_classes))  # synced under DDP
        self.code_probs = CatMetric()  # Q's first-code probabilities on real images, for val/code_mi (label-free)
        if labelled_per_class:  # filled in setup from the training split; not saved: the seed draws them again
            self.register_buffer("labelled_images", torch.empty(0, *img_shape), persistent=False)
            self.register_buffer("labelled_labels", torch.empty(0, dtype=torch.long), persistent=False)
        self.init_ema()

    # ---- latents --------------------------------------------------------------------------------------------

    def latent(self, noise: torch.Tensor, categories: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """[z (B, noise_dim), one-hot of each categorical code, continuous codes (B, continuous)] -> (B, latent)."""
        one_hots = [F.one_hot(categories[:, i], k).float() for i, k in enumerate(self.hparams.categorical)]
        return torch.cat([noise, *one_hots, codes], dim=1)

    def draw_noise(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """(n, noise_dim) draws of z from its prior (``noise``, ``noise_scale``)."""
        device, shape = rng.device if rng is not None else self.device, (n, self.hparams.noise_dim)
        if self.hparams.noise == "uniform":
            return (torch.rand(shape, generator=rng, device=device) * 2 - 1) * self.hparams.noise_scale
        return torch.randn(shape, generator=rng, device=device) * self.hparams.noise_scale

    def sample_inputs(self, n: int, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        device = rng.device if rng is not None else self.device
        noise = self.draw_noise(n, rng)
        categories = torch.stack(
            [torch.randint(k, (n,), generator=rng, device=device) for k in self.hparams.categorical], dim=1
        )
        codes = (torch.rand(n, self.hparams.continuous, generator=rng, device=device) * 2 - 1) * self.hparams.code_range
        return {"z": self.latent(noise, categories, codes), "categories": categories, "codes": codes}

    def controls(self) -> list[dict]:
        hp, many = self.hparams, len(self.hparams.categorical) > 1
        categorical = [
            {"condition": "categories", "column": i, "label": f"category {i + 1}" if many else "category", "choices": k}
            for i, k in enumerate(hp.categorical)
        ]
        categorical[0]["class_names"] = bool(hp.labelled_per_class)  # the few-label mode teaches code k = class k
        r = hp.code_range
        continuous = [
            {"condition": "codes", "column": j, "label": f"code {j + 1}", "range": [-r, r]}
            for j in range(hp.continuous)
        ]
        return categorical + continuous

    def predict_inputs(self, indices: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        inputs = self.sample_inputs(len(indices), rng)
        categories, codes = inputs["categories"], inputs["codes"]
        if self.hparams.predict_category is not None:
            categories[:, 0] = self.hparams.predict_category
        if self.hparams.predict_codes is not None:
            codes[:] = torch.tensor(self.hparams.predict_codes)
        noise = inputs["z"][:, : self.hparams.noise_dim]
        return {"z": self.latent(noise, categories, codes), "categories": categories, "codes": codes}

    @torch.no_grad()
    def read_conditions(self, images: torch.Tensor) -> list[torch.Tensor]:
        """What Q reads in images (B, C, H, W) in [-1, 1], real or drawn: one tensor per ``controls()`` entry, each
        categorical code's probabilities (B, k), then each continuous code's mean (B,). D runs in eval mode."""
        with eval_mode(self.discriminator) as discriminator:
            cat_logits, mean, _ = discriminator.q(discriminator(images.to(self.device))[1])
        return [logits.softmax(dim=1) for logits in cat_logits] + list(mean.unbind(dim=1))

    # ---- the information terms ------------------------------------------------------------------------------

    def info_terms(self, h: torch.Tensor, categories: torch.Tensor, codes: torch.Tensor):
        """(categorical CE summed over codes, continuous Gaussian NLL), both in nats, from trunk features h."""
        cat_logits, mean, log_std = self.discriminator.q(h)
        cat_ce = sum(losses.class_loss(logits, categories[:, i]) for i, logits in enumerate(cat_logits))
        cont_nll = losses.gaussian_nll(mean, codes, log_std) if self.hparams.continuous else torch.zeros_like(cat_ce)
        return cat_ce, cont_nll

    def moved_cat_ce(self, fake: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        """The categorical CE of Q on a moved copy of the (detached) fakes, for Q's update (``move_fakes``)."""
        _, h = self.discriminator(self.move(fake))
        return sum(losses.class_loss(logits, categories[:, i]) for i, logits in enumerate(self.discriminator.q(h)[0]))

    # ---- the few-label mode: a few labelled real images teach Q's first categorical head ----------------------

    def setup(self, stage: str) -> None:
        if not self.has_labels:
            if self.hparams.labelled_per_class:
                raise LitGansError("model.labelled_per_class needs data with classes (class sub-folders); use 0 here")
            rank_zero_info(
                "lit_gans: the data has no classes (an image folder without sub-folders): no val/code_accuracy"
            )
        if stage != "fit" or not self.hparams.labelled_per_class:
            return
        train_set = getattr(self.trainer.datamodule, "train_set", None)  # after the DataModule's setup
        if hasattr(train_set, "tensors"):  # a TensorDataset (images, labels)
            labels = train_set.tensors[1]
        elif hasattr(train_set, "rows"):  # rows of an image folder's cache: (image, label) by index, labels apart
            labels = train_set.labels
        else:
            raise LitGansError("model.labelled_per_class needs a DataModule whose train_set holds (images, labels)")
        seed = int(torch.initial_seed()) % 2**31  # seed_everything's: the subset is fixed by the run's seed
        index = labelled_subset(labels.cpu(), self.hparams.labelled_per_class, seed)
        images, labels = train_set[index.to(labels.device)][:2]
        self.labelled_images = to_unit_range(images).to(self.labelled_images)
        self.labelled_labels = labels.to(self.labelled_labels.device)

    def move(self, images: torch.Tensor) -> torch.Tensor:
        """Each image moved by up to ``shift`` pixels, turned by up to ``rotate`` degrees, then sheared by up to
        ``shear`` degrees (as they are with 0s: a 0 draws no random numbers, so runs without it train as before)."""
        turned = random_rotate(random_shift(images, self.hparams.shift), self.hparams.rotate)
        return random_shear(turned, self.hparams.shear)

    def labelled_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``label_batch_size`` of the labelled real images (each moved: ``move``) and their labels."""
        pick = torch.randperm(len(self.labelled_labels), device=self.device)[: self.hparams.label_batch_size]
        return self.move(self.labelled_images[pick]), self.labelled_labels[pick]

    def label_loss(self) -> torch.Tensor:
        """Cross-entropy of Q's first categorical head on a batch of the labelled real images."""
        images, labels = self.labelled_batch()
        _, h = self.discriminator(images)
        cat_logits, _, _ = self.discriminator.q(h)
        return losses.class_loss(cat_logits[0], labels)

    def training_step(self, batch, batch_idx):
        real, _ = batch  # labels unused: InfoGAN is unsupervised (the few-label mode has its own labelled images)
        opt_g, opt_d = self.optimizers_counting_g_steps()
        inputs = self.sample_inputs(real.size(0))
        categories, codes = inputs["categories"], inputs["codes"]
        fake = self.generator(inputs["z"])  # computed once, used by both updates
        lam_cat, lam_cont = self.hparams.lambda_cat, self.hparams.lambda_cont

        # D and Q: the GAN loss plus the information terms on (detached) fakes
        with self.toggled_optimizer(opt_d):
            d_real, h_real = self.discriminator(real)
            d_fake, h_fake = self.discriminator(fake.detach())
            cat_ce, cont_nll = self.info_terms(h_fake, categories, codes)
            if self.hparams.move_fakes:  # the code read from a moved copy instead
                cat_ce = self.moved_cat_ce(fake.detach(), categories)
            loss_d = losses.d_loss(d_real, d_fake) + lam_cat * cat_ce + lam_cont * cont_nll
            if self.hparams.labelled_per_class:
                label_ce = self.label_loss()
                loss_d = loss_d + self.hparams.lambda_label * label_ce
            if self.hparams.lambda_real_info or self.hparams.lambda_consistency:  # Q's first code on the real batch
                q_real = self.discriminator.q(h_real)[0][0]  # (only then: Q's head has BatchNorm statistics to keep)
            if self.hparams.lambda_real_info:  # confident per image, values even
                real_info = losses.categorical_information(q_real)
                loss_d = loss_d - self.hparams.lambda_real_info * real_info
            if self.hparams.lambda_consistency:  # the same on a moved copy of each image, toward the fixed original
                _, h_moved = self.discriminator(self.move(real))
                consistency = losses.consistency(self.discriminator.q(h_moved)[0][0], q_real.detach())
                loss_d = loss_d + self.hparams.lambda_consistency * consistency
            self.backward_and_step(opt_d, loss_d, "loss/d")
        logs = {"loss/d": loss_d, "D(x)": d_real.detach().sigmoid().mean(), "D(G(z))": d_fake.detach().sigmoid().mean()}
        # the variational lower bound on I(c; G(z, c)): H(c) - CE; at best ln 10 = 2.30 nats for a 10-way code
        logs["info/cat_ce"] = cat_ce.detach()
        logs["info/cat_mi_lower_bound"] = sum(math.log(k) for k in self.hparams.categorical) - cat_ce.detach()
        logs["info/cont_nll"] = cont_nll.detach()
        if self.hparams.labelled_per_class:
            logs["info/label_ce"] = label_ce.detach()
        if self.hparams.lambda_real_info:
            logs["info/real_info"] = real_info.detach()
        if self.hparams.lambda_consistency:
            logs["info/consistency"] = consistency.detach()

        # G: fool D and keep the codes recoverable (D and Q frozen here; Q learned above)
        if (batch_idx + 1) % self.d_steps == 0:
            with self.toggled_optimizer(opt_g):
                d_fake_g, h = self.discriminator(fake)
                cat_ce_g, cont_nll_g = self.info_terms(h, categories, codes)
                loss_g = losses.g_loss(d_fake_g) + lam_cat * cat_ce_g + lam_cont * cont_nll_g
                self.backward_and_step(opt_g, loss_g, "loss/g")
            self.update_ema()
            logs["loss/g"] = loss_g
        self.finish_step(logs)

    # ---- the paper's measure: does the categorical code recover the digit class of real images? --------------

    @property
    def has_labels(self) -> bool:
        """Whether the data's labels are classes the categorical code can be scored against (not one folder's 0s)."""
        return self.hparams.num_classes >= 2

    def validation_step(self, batch, batch_idx):
        real, labels = batch
        _, h = self.discriminator(real)
        cat_logits, _, _ = self.discriminator.q(h)
        self.code_probs.update(cat_logits[0].float().softmax(dim=1))  # (B, k)
        if self.has_labels:
            self.code_confusion.update(cat_logits[0].argmax(dim=1), labels)

    def on_validation_epoch_end(self) -> None:
        if self.code_probs.update_count:  # label-free: H(mean p) - mean H(p) of Q's first code on real images
            self.log("val/code_mi", code_mutual_information(self.code_probs.compute()))
        self.code_probs.reset()
        if not self.has_labels:
            return
        confusion = self.code_confusion.compute()  # rows: digits, columns: code values; summed over ranks
        self.code_confusion.reset()
        self.log("val/code_accuracy", best_map_accuracy(confusion), prog_bar=True)
        self.log("val/code_accuracy_identity", identity_accuracy(confusion))  # code k read as digit k

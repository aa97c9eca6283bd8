"""Plain nn.Module networks. A variant is which of these it gets, not a subclass.

Images (B, C, H, W) in [-1, 1] with C 1 or 3 and H = W one of ``SIZES`` (MNIST: 1 x 28 x 28), or points (B, 2) of the
2D toy; generator inputs (B, input_dim).
"""

import math

import torch
from torch import nn

from lit_gans.errors import LitGansError

# image side -> side of the smallest feature maps (D's last conv, G's first): the MNIST nets' two stride-2 stages
# take 28 to 7 and 32 to 8; 64 gets a third stage to 8 rather than keeping 16x16 maps, whose flattening would make
# the FC 1024 layers of G and D 4x larger (33.6M weights each instead of 8.4M) for the same depth
SIZES = {28: 7, 32: 8, 64: 8}


def map_side(size: int) -> tuple[int, int]:
    """(side of the smallest maps, number of stride-2 stages) for images of ``size`` x ``size``."""
    if size not in SIZES:
        raise LitGansError(
            f"the convolutional networks take images of {', '.join(map(str, SIZES))} pixels, not {size}; "
            f"pick one of those (e.g. --data.init_args.image_size 32)"
        )
    side = SIZES[size]
    return side, int(math.log2(size // side))


def conv_shape(img_shape) -> tuple[int, int]:
    """(channels, size) of square images (C, H, W), checked: what the convolutional networks are built from."""
    if len(img_shape) != 3:
        raise LitGansError(
            f"the convolutional networks take images (C, H, W), but the data are points of shape {tuple(img_shape)}; "
            f"train points with the point networks: GAN or WGANGP with --model.init_args.arch points"
        )
    channels, height, width = img_shape
    if height != width:
        raise LitGansError(f"the convolutional networks take square images, got {height}x{width}")
    map_side(height)
    return channels, height


def check_arch(arch: str, img_shape) -> None:
    """Point networks for points, image networks for images: the other way round would train something meaningless
    (a Tanh image network squeezes the grid's points, at up to 4, into [-1, 1])."""
    points = len(img_shape) == 1
    if points and arch == "mlp":  # the convolutional ones say so in conv_shape
        raise LitGansError(
            f"--model.init_args.arch {arch} builds image networks, but the data are points of shape "
            f"{tuple(img_shape)}; train points with --model.init_args.arch points (configs ring_gan, ring_hinge, ...)"
        )
    if not points and arch == "points":
        raise LitGansError(
            f"--model.init_args.arch points is for the 2D toy's points, but the data are images of shape "
            f"{tuple(img_shape)}; pick an image architecture (dcgan, or mlp for the vanilla GAN)"
        )


def init_weights(module: nn.Module) -> None:
    """DCGAN's init (Radford et al. 2015, section 4): weights N(0, 0.02), BatchNorm scale N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# ---- vanilla GAN (Goodfellow et al. 2014): multilayer perceptrons -------------------------------------------------


class MLPGenerator(nn.Module):
    """z -> (Linear, BatchNorm, ReLU) x 3 -> Tanh image.

    BatchNorm departs from Goodfellow et al. (2014), whose G had none: without it this MLP collapses to a few
    blurry modes on MNIST, even with PyTorch's default init (docs/results.md, vanilla GAN).

    Args:
        input_dim: size of z.
        img_shape: (C, H, W) of the output.
        hidden: widths of the hidden layers.
    """

    def __init__(self, input_dim: int, img_shape=(1, 28, 28), hidden=(256, 512, 1024)):
        super().__init__()
        self.input_dim, self.img_shape = input_dim, tuple(img_shape)
        layers, width = [], input_dim
        for h in hidden:
            layers += [nn.Linear(width, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]  # BN has the bias
            width = h
        layers += [nn.Linear(width, math.prod(img_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.size(0), *self.img_shape)  # (B, C, H, W)


class MLPDiscriminator(nn.Module):
    """Image -> LeakyReLU MLP -> one real/fake logit.

    Wider and deeper than the usual 512-256 with dropout 0.3 (the paper regularised its maxout D with dropout):
    against the BatchNorm generator that D sat at chance (D(x) = D(G(z)) = 0.5) while the samples were still poor,
    so G stopped improving; this one keeps teaching it (docs/results.md, vanilla GAN).

    Args:
        img_shape: (C, H, W) of the input.
        hidden: widths of the hidden layers.
        dropout: dropout probability after each hidden layer (0: none).
    """

    def __init__(self, img_shape=(1, 28, 28), hidden=(1024, 512, 256), dropout: float = 0.0):
        super().__init__()
        layers, width = [nn.Flatten()], math.prod(img_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, inplace=True)] + (
                [nn.Dropout(dropout)] if dropout else []
            )
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B,) logits


# ---- the 2D toy (Unrolled GAN, VEEGAN, PacGAN, WGAN-GP's toy): small ReLU perceptrons on points ----------------


def point_mlp(in_features: int, hidden, out_features: int) -> nn.Sequential:
    """(Linear, ReLU) per hidden width, then a linear output; PyTorch's default init, as WGAN-GP's toy code (He)."""
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, out_features))


class PointGenerator(nn.Module):
    """z -> (Linear, ReLU) x len(hidden) -> a linear point: no Tanh (points keep the mixture's coordinates, which reach
    +-4 on the grid) and no BatchNorm, as the toy generators of Unrolled GAN and WGAN-GP.

    Args:
        input_dim: size of z.
        dim: dimensions of a point.
        hidden: widths of the hidden layers.
    """

    def __init__(self, input_dim: int, dim: int = 2, hidden=(128, 128)):
        super().__init__()
        self.input_dim = input_dim
        self.net = point_mlp(input_dim, hidden, dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, dim)


class PointDiscriminator(nn.Module):
    """Point -> (Linear, ReLU) x len(hidden) -> one logit (or one critic score): no normalisation, so that the
    gradient penalty can be taken per point.

    Args:
        dim: dimensions of a point.
        hidden: widths of the hidden layers.
    """

    def __init__(self, dim: int = 2, hidden=(128, 128)):
        super().__init__()
        self.net = point_mlp(dim, hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B,)


# ---- the DCGAN authors' MNIST networks (Radford et al. 2015, dcgan_code/mnist), which InfoGAN (Chen et al. 2016,
# Appendix C) took over: used by DCGAN, InfoGAN, AC-GAN, cGAN and, with LayerNorm in D, WGAN-GP ------------------


class ConvGenerator(nn.Module):
    """FC 1024-BN-ReLU -> FC 7x7x128-BN-ReLU -> 4x4 up-conv 64 s2 BN ReLU -> 4x4 up-conv 1 s2 Tanh (at 28x28x1).

    DCGAN's G for MNIST as its authors wrote it (dcgan_code/mnist: two fully connected layers, then two transposed
    convolutions), and InfoGAN's (Appendix C). Other shapes: the maps start at 8x8 for 32 and 64 pixels, and 64 gets
    one more up-conv 128 s2 BN ReLU first; the last up-conv gives ``channels``.

    Args:
        input_dim: size of the whole input (the noise, plus codes or a class one-hot where the variant has them).
        channels: image channels.
        size: image side, one of ``SIZES``.
    """

    def __init__(self, input_dim: int, channels: int = 1, size: int = 28):
        super().__init__()
        self.input_dim = input_dim
        self.side, stages = map_side(size)
        self.fc = nn.Sequential(
            nn.Linear(input_dim, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.ReLU(inplace=True),
            nn.Linear(1024, 128 * self.side**2, bias=False),
            nn.BatchNorm1d(128 * self.side**2),
            nn.ReLU(inplace=True),
        )
        extra = []
        for _ in range(stages - 2):  # 64 pixels: (B, 128, 8, 8) -> (B, 128, 16, 16)
            extra += [nn.ConvTranspose2d(128, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True)]
        self.conv = nn.Sequential(
            *extra,
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),  # (B, 64, 14, 14) at 28 pixels
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(64, channels, 4, 2, 1),  # (B, C, 28, 28)
            nn.Tanh(),
        )
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv(self.fc(z).view(-1, 128, self.side, self.side))


class ConvTrunk(nn.Module):
    """D's body, shared by its heads: 4x4 conv 64 s2 LReLU (no BN) -> 4x4 conv 128 s2 BN LReLU -> FC 1024 BN LReLU.

    DCGAN's D for MNIST as its authors wrote it (dcgan_code/mnist), and InfoGAN's. The fully connected 1024 layer
    is what makes it work at 28x28: read out linearly from the 7x7 maps (an all-convolutional D), D is too weak to
    teach G (docs/results.md, DCGAN).

    Other shapes mirror the generator: 8x8 maps for 32 and 64 pixels, and 64 gets one more conv 128 s2 (norm, LReLU)
    before the FC layer.

    Args:
        channels: image channels.
        slope: LeakyReLU slope (0.1 in InfoGAN's paper, 0.2 in DCGAN's).
        layer_norm: LayerNorm in place of BatchNorm (a critic for the gradient penalty scores each image alone).
        size: image side, one of ``SIZES``.
    """

    out_features = 1024

    def __init__(self, channels: int = 1, slope: float = 0.1, layer_norm: bool = False, size: int = 28):
        super().__init__()
        side, stages = map_side(size)
        layers = [nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(slope, inplace=True)]  # (B, 64, 14, 14) at 28
        width, maps = 64, size // 2
        for _ in range(stages - 1):  # (B, 128, 7, 7) at 28 pixels; BN has the bias, LayerNorm too
            maps //= 2
            layers += [
                nn.Conv2d(width, 128, 4, 2, 1, bias=layer_norm),
                nn.LayerNorm([128, maps, maps]) if layer_norm else nn.BatchNorm2d(128),  # LayerNorm: the maps' shape
                nn.LeakyReLU(slope, inplace=True),
            ]
            width = 128
        self.net = nn.Sequential(
            *layers,
            nn.Flatten(),
            nn.Linear(128 * side * side, 1024, bias=False),  # (B, 1024)
            nn.LayerNorm(1024) if layer_norm else nn.BatchNorm1d(1024),
            nn.LeakyReLU(slope, inplace=True),
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class QHead(nn.Module):
    """InfoGAN's recognition network Q on D's trunk: FC 128-BN-LReLU -> categorical logits and Gaussian parameters.

    Args:
        in_features: width of the trunk's output.
        categorical: sizes of the categorical codes (one logit block per code).
        continuous: number of continuous codes.
        learn_std: also predict a log-std per continuous code (else the std is fixed to 1).
        slope: LeakyReLU slope.
    """

    def __init__(self, in_features: int, categorical: list[int], continuous: int, learn_std: bool, slope: float = 0.1):
        super().__init__()
        self.categorical, self.continuous, self.learn_std = list(categorical), continuous, learn_std
        self.body = nn.Sequential(nn.Linear(in_features, 128, bias=False), nn.BatchNorm1d(128), nn.LeakyReLU(slope))
        self.out = nn.Linear(128, sum(self.categorical) + continuous * (2 if learn_std else 1))
        init_weights(self)

    def forward(self, h: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor | None]:
        """Returns (logits per categorical code [(B, k)], continuous means (B, n), log-stds (B, n) or None)."""
        out = self.out(self.body(h))
        cat_logits = list(out[:, : sum(self.categorical)].split(self.categorical, dim=1))
        rest = out[:, sum(self.categorical) :]
        mean = rest[:, : self.continuous]
        log_std = rest[:, self.continuous :] if self.learn_std else None
        return cat_logits, mean, log_std


class InfoGANDiscriminator(nn.Module):
    """D and Q on one trunk: ``forward`` gives (real/fake logits (B,), trunk features (B, 1024)); ``q`` reads codes.

    Args:
        categorical: sizes of the categorical codes Q predicts.
        continuous: number of continuous codes Q predicts.
        learn_std: Q also predicts a log-std per continuous code.
        channels: image channels.
        size: image side, one of ``SIZES``.
    """

    def __init__(
        self, categorical: list[int], continuous: int, learn_std: bool = False, channels: int = 1, size: int = 28
    ):
        super().__init__()
        self.trunk = ConvTrunk(channels, size=size)
        self.source = nn.Linear(ConvTrunk.out_features, 1)  # the paper's "FC. output layer for D"
        self.q = QHead(ConvTrunk.out_features, categorical, continuous, learn_std)
        init_weights(self.source)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.source(h).squeeze(1), h


class ACGANDiscriminator(nn.Module):
    """AC-GAN's D: one trunk, two heads: ``forward`` gives (real/fake logits (B,), class logits (B, num_classes)).

    Args:
        num_classes: number of classes the auxiliary classifier predicts.
        channels: image channels.
        size: image side, one of ``SIZES``.
    """

    def __init__(self, num_classes: int, channels: int = 1, size: int = 28):
        super().__init__()
        self.trunk = ConvTrunk(channels, size=size)
        self.source = nn.Linear(ConvTrunk.out_features, 1)
        self.classes = nn.Linear(ConvTrunk.out_features, num_classes)
        init_weights(self.source)
        init_weights(self.classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.source(h).squeeze(1), self.classes(h)


# ---- conditional GAN (Mirza & Osindero 2014) with a projection D (Miyato & Koyama 2018) ----------------------------


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = w . h(x) + embed(y) . h(x) on the InfoGAN trunk h: the label meets D's features, not its pixels.

    Args:
        num_classes: number of labels y.
        channels: image channels.
        size: image side, one of ``SIZES``.
    """

    def __init__(self, num_classes: int, channels: int = 1, size: int = 28):
        super().__init__()
        self.trunk = ConvTrunk(channels, size=size)
        self.source = nn.Linear(ConvTrunk.out_features, 1)  # the unconditional part: is x a digit at all
        self.embed = nn.Embedding(num_classes, ConvTrunk.out_features)  # the conditional part: is x this digit
        init_weights(self.source)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)  # small, like every other weight: D starts unconditional

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)  # (B, 1024)
        return self.source(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)  # (B,) logits


# ---- one real/fake output on the trunk: DCGAN's D, and WGAN-GP's critic (Gulrajani et al. 2017) ------------------


class ConvDiscriminator(nn.Module):
    """The trunk read out by one linear layer: one real/fake logit per image (DCGAN), or one score (WGAN-GP critic).

    Args:
        channels: image channels.
        slope: LeakyReLU slope (DCGAN's 0.2).
        layer_norm: LayerNorm in place of BatchNorm, for WGAN-GP: the gradient penalty is taken per sample, and
            BatchNorm would make each score depend on the rest of the batch, so the paper drops it from the critic
            and recommends layer normalisation (section 4).
        size: image side, one of ``SIZES``.
    """

    def __init__(self, channels: int = 1, slope: float = 0.2, layer_norm: bool = False, size: int = 28):
        super().__init__()
        self.trunk = ConvTrunk(channels, slope, layer_norm, size)
        self.source = nn.Linear(ConvTrunk.out_features, 1)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.source(self.trunk(x)).squeeze(1)  # (B,) logits or scores


# ---- spectral normalisation (Miyato et al. 2018), applied to a built D --------------------------------------------


def spectral_norm_(module: nn.Module) -> nn.Module:
    """Puts every Linear and (transposed) convolution of ``module`` under spectral normalisation, in place.

    Each weight is divided by its largest singular value, estimated by one power iteration per forward in training
    mode (``torch.nn.utils.parametrizations.spectral_norm``), so every layer is 1-Lipschitz.
    """
    layers = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    for m in layers:
        nn.utils.parametrizations.spectral_norm(m)
    return module

"""Small classifiers of MNIST and Fashion-MNIST whose features and logits stand in for InceptionV3 in FID, IS and KID.

InceptionV3 sees 299x299 colour photos; on 28x28 digits its features say little and it is slow on a CPU.
A classifier trained on the dataset itself is the usual substitute. Its numbers compare runs of this repo on that
dataset, not papers that used Inception. Train and ship the weights with
``python -m lit_gans.train_evaluator [--dataset fashion_mnist]``; one network, one weights file per dataset.
"""

from pathlib import Path

import torch
from torch import nn

from lit_gans.errors import LitGansError

WEIGHTS = {  # dataset -> its evaluator's weights, shipped in the package
    "mnist": Path(__file__).with_name("evaluator.pt"),
    "fashion_mnist": Path(__file__).with_name("evaluator_fashion_mnist.pt"),
}


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),  # BatchNorm supplies the bias
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class Evaluator(nn.Module):
    """Two conv blocks, a 128-wide feature layer and 10 logits, for MNIST or Fashion-MNIST in [-1, 1].

    Args:
        width: channels of the first conv block; the second has twice as many.
    """

    num_features = 128  # penultimate width: FID/KID covariances stay cheap at 128x128

    def __init__(self, width: int = 16):  # 16/32 channels reach 99.3%+ and keep 10k images well under 1 s on a CPU
        super().__init__()
        self.body = nn.Sequential(conv_block(1, width), conv_block(width, 2 * width), nn.Flatten())
        self.fc = nn.Sequential(
            nn.Linear(2 * width * 7 * 7, self.num_features, bias=False),
            nn.BatchNorm1d(self.num_features),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(self.num_features, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations [N, 128], after their ReLU."""
        return self.fc(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits [N, 10]."""
        return self.head(self.features(x))


def load_evaluator(device: torch.device | str | None = None, dataset: str = "mnist") -> Evaluator:
    """The shipped evaluator of ``dataset`` ("mnist" or "fashion_mnist"), frozen and in eval mode."""
    if dataset not in WEIGHTS:
        raise LitGansError(
            f"there is no evaluator for {dataset!r}, only for {', '.join(WEIGHTS)}; "
            f"use --metrics.backbone inception (or none) for other images"
        )
    weights = WEIGHTS[dataset]
    if not weights.is_file():
        raise LitGansError(
            f"evaluator weights {weights} are missing; "
            f"create them with: python -m lit_gans.train_evaluator --dataset {dataset}"
        )
    model = Evaluator()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    # channels_last: on a CPU max-pool and BatchNorm run ~3x faster in that layout (training is faster without it)
    return model.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)

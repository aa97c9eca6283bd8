import pytest
import torch

from lit_gans import nets


@pytest.mark.parametrize(
    "generator, discriminator, latent",
    [
        (nets.MLPGenerator(100), nets.MLPDiscriminator(), 100),
        (nets.DCGenerator(100), nets.DCDiscriminator(), 100),
        (nets.InfoGANGenerator(74), nets.InfoGANTrunk(), 74),
    ],
)
def test_shapes_and_range(generator, discriminator, latent):
    x = generator(torch.randn(8, latent))
    assert x.shape == (8, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1  # Tanh output matches data in [-1, 1]
    out = discriminator(x)
    assert out.shape[0] == 8


def test_dcgan_conventions():
    g, d = nets.DCGenerator(100), nets.DCDiscriminator()
    # no pooling, BN neither on G's output layer nor on D's input layer, LeakyReLU 0.2 in D
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in [*g.modules(), *d.modules()])
    assert isinstance(g.net[-1], torch.nn.Tanh) and isinstance(g.net[-2], torch.nn.ConvTranspose2d)
    assert isinstance(d.net[1], torch.nn.LeakyReLU) and d.net[1].negative_slope == 0.2
    conv_weights = torch.cat([m.weight.flatten() for m in d.modules() if isinstance(m, torch.nn.Conv2d)])
    assert abs(conv_weights.std().item() - 0.02) < 0.002  # N(0, 0.02) init


def test_q_head_shapes():
    q = nets.QHead(1024, categorical=[10, 3], continuous=2, learn_std=True)
    cat, mean, log_std = q(torch.randn(5, 1024))
    assert [c.shape for c in cat] == [(5, 10), (5, 3)]
    assert mean.shape == (5, 2) and log_std.shape == (5, 2)
    _, _, none = nets.QHead(1024, [10], 2, learn_std=False)(torch.randn(5, 1024))
    assert none is None


def test_mlp_generator_starts_with_distinct_samples():
    # the vanilla GAN's collapse started here: without normalisation the N(0, 0.02) init shrinks z's influence layer
    # by layer, so every z gave nearly the same image (std over z 0.004) and D pushed G to a few modes from there
    torch.manual_seed(0)
    images = nets.MLPGenerator(100)(torch.randn(64, 100))
    assert images.std(dim=0).mean() > 0.1

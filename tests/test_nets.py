import pytest
import torch

from lit_gans import nets
from lit_gans.errors import LitGansError


@pytest.mark.parametrize(
    "generator, discriminator, latent",
    [
        (nets.MLPGenerator(100), nets.MLPDiscriminator(), 100),
        (nets.ConvGenerator(100), nets.ConvDiscriminator(), 100),
        (nets.ConvGenerator(100), nets.ConvDiscriminator(layer_norm=True), 100),
        (nets.ConvGenerator(74), nets.ConvTrunk(), 74),
    ],
)
def test_shapes_and_range(generator, discriminator, latent):
    x = generator(torch.randn(8, latent))
    assert x.shape == (8, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1  # Tanh output matches data in [-1, 1]
    out = discriminator(x)
    assert out.shape[0] == 8


def test_dcgan_conventions():
    g, d = nets.ConvGenerator(100), nets.ConvDiscriminator()
    # no pooling, BN neither on G's output layer nor on D's input layer, LeakyReLU 0.2 in D
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in [*g.modules(), *d.modules()])
    assert isinstance(g.conv[-1], torch.nn.Tanh) and isinstance(g.conv[-2], torch.nn.ConvTranspose2d)
    assert isinstance(d.trunk.net[1], torch.nn.LeakyReLU) and d.trunk.net[1].negative_slope == 0.2
    # the layer that makes D strong enough at 28x28: a fully connected 1024 on the 7x7 maps, then one output
    assert [m.out_features for m in d.modules() if isinstance(m, torch.nn.Linear)] == [1024, 1]
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


def test_dcgan_networks_are_the_dcgan_authors_mnist_sizes():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # G: 100*1024 + BN, 1024*6272 + BN, 128*64*16 + BN, 64*16 + 1; D: 16*64 + 64, 64*128*16 + BN, 6272*1024 + BN, 1025
    assert count(nets.ConvGenerator(100)) == 102400 + 2048 + 6422528 + 12544 + 131072 + 128 + 1024 + 1
    assert count(nets.ConvDiscriminator()) == 1088 + 131072 + 256 + 6422528 + 2048 + 1025
    critic = nets.ConvDiscriminator(layer_norm=True)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [28, 32, 64])
def test_conv_networks_follow_the_image_shape(channels, size):
    g = nets.ConvGenerator(20, channels, size)
    x = g(torch.randn(4, 20))
    assert x.shape == (4, channels, size, size)
    critic = nets.ConvDiscriminator(channels, layer_norm=True, size=size)  # LayerNorm's shape follows the maps
    heads = [
        nets.ConvDiscriminator(channels, size=size),
        critic,
        nets.InfoGANDiscriminator([10], 2, channels=channels, size=size),
        nets.ACGANDiscriminator(5, channels, size),
    ]
    for d in heads:
        out = d(x)
        assert (out[0] if isinstance(out, tuple) else out).shape == (4,)
    assert nets.ProjectionDiscriminator(5, channels, size)(x, torch.arange(4)).shape == (4,)
    norms = [m.normalized_shape for m in critic.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms[-2] == (128, size // 4 if size < 64 else 8, size // 4 if size < 64 else 8) and norms[-1] == (1024,)


def test_conv_networks_parameter_counts_at_32_and_64_pixels_in_colour():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # 32x32x3: 8x8 maps, so the FC layers read and write 8*8*128 = 8192 features
    g32 = 102400 + 2048 + 1024 * 8192 + 2 * 8192 + 131072 + 128 + 64 * 3 * 16 + 3
    d32 = 3 * 64 * 16 + 64 + 131072 + 256 + 8192 * 1024 + 2048 + 1025
    assert count(nets.ConvGenerator(100, 3, 32)) == g32
    assert count(nets.ConvDiscriminator(3, size=32)) == d32
    # 64x64x3: the same 8x8 maps, one more stride-2 stage of 128 channels in each network
    assert count(nets.ConvGenerator(100, 3, 64)) == g32 + 128 * 128 * 16 + 256
    assert count(nets.ConvDiscriminator(3, size=64)) == d32 + 128 * 128 * 16 + 256


def test_the_mnist_networks_keep_their_state_dict_keys():
    # checkpoints of the 28x28x1 networks load as before: same layers at the same places
    assert [k for k in nets.ConvGenerator(100).state_dict() if k.endswith("weight")] == [
        "fc.0.weight",
        "fc.1.weight",
        "fc.3.weight",
        "fc.4.weight",
        "conv.0.weight",
        "conv.1.weight",
        "conv.3.weight",
    ]
    assert [k for k in nets.ConvTrunk().state_dict() if k.endswith("weight")] == [
        "net.0.weight",
        "net.2.weight",
        "net.3.weight",
        "net.6.weight",
        "net.7.weight",
    ]


@pytest.mark.parametrize("shape", [(3, 48, 48), (1, 28, 32)])
def test_unsupported_image_shapes_are_one_line_errors(shape):
    with pytest.raises(LitGansError, match="28, 32, 64 pixels, not 48|square images, got 28x32"):
        nets.conv_shape(shape)

import pytest
import torch
from torch import nn

from lit_gans.callbacks import ClassGrid
from lit_gans.errors import LitGansError
from lit_gans.measures import SampleAccuracy
from lit_gans.models import ACGAN, CGAN, GAN


def test_shapes_and_no_classifier_head():
    model = CGAN()
    inputs = model.sample_inputs(4)
    assert inputs["z"].shape == (4, 110) and inputs["labels"].shape == (4,)
    logits = model.discriminator(model.generator(inputs["z"]), inputs["labels"])
    assert logits.shape == (4,)  # one real/fake logit per (image, label) pair: the label is an input, not a target
    assert not any(isinstance(m, (nn.Softmax, nn.Sigmoid)) for m in model.discriminator.modules())


def test_the_label_reaches_both_networks():
    model = CGAN().eval()
    noise = torch.randn(1, 100).expand(10, -1)
    with torch.no_grad():
        images = model.generator(model.latent(noise, torch.arange(10)))
        judged = model.discriminator(images[:1].expand(10, -1, -1, -1), torch.arange(10))
    assert ((images[1:] - images[:1]).abs().flatten(1).amax(1) > 1e-4).all()  # same noise, another label: G differs
    assert judged.unique().numel() == 10  # the same image judged with each label: D says something different


def test_sample_accuracy_is_acgans_measure():
    cgan, acgan = CGAN(samples_per_class=7), ACGAN(samples_per_class=7)
    assert type(cgan.sample_accuracy) is SampleAccuracy and type(acgan.sample_accuracy) is SampleAccuracy
    assert cgan.sample_accuracy.samples_per_class == 7
    labels = torch.tensor([3, 1, 4])
    images = cgan.eval().draw_classes(labels, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 28, 28)


def test_predict_cycles_the_asked_classes():
    out = CGAN(predict_classes=[2, 5]).predict_step(torch.arange(4), 0)
    assert out["labels"].tolist() == [2, 5, 2, 5] and out["images"].shape == (4, 1, 28, 28)
    with pytest.raises(LitGansError, match="predict_classes must be a non-empty list of 0..9"):
        CGAN(predict_classes=[10])


def test_class_grid_draws_cgan_and_refuses_unconditional_models():
    grid = ClassGrid(columns=3)
    grid.setup(None, CGAN(), "fit")  # accepted
    images = grid.make_images(CGAN().eval())["class_grid"][0]
    assert images.shape == (30, 1, 28, 28)
    with pytest.raises(LitGansError, match="ClassGrid draws the classes of AC-GAN or CGAN"):
        grid.setup(None, GAN(), "fit")

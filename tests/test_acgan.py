import torch
from torch import nn

from lit_gans import losses
from lit_gans.models import ACGAN


def test_heads_shapes():
    model = ACGAN()
    inputs = model.sample_inputs(4)
    assert inputs["z"].shape == (4, 110)
    source, classes = model.discriminator(model.generator(inputs["z"]))
    assert source.shape == (4,) and classes.shape == (4, 10)


def test_class_loss_takes_logits():
    model = ACGAN()
    # no Softmax/Sigmoid anywhere before the losses: the heads end in Linear layers
    squashing = (nn.Softmax, nn.LogSoftmax, nn.Sigmoid)
    assert not any(isinstance(m, squashing) for m in model.discriminator.modules())
    assert isinstance(model.discriminator.classes, nn.Linear)
    logits, labels = torch.randn(8, 10) * 5, torch.randint(10, (8,))
    expected = -torch.log_softmax(logits, 1)[torch.arange(8), labels].mean()
    assert torch.allclose(losses.class_loss(logits, labels), expected, atol=1e-6)
    # a softmax before the loss would be caught: probabilities are not the same input as logits
    assert not torch.allclose(losses.class_loss(logits.softmax(1), labels), expected, atol=1e-3)


def test_labels_reach_the_generator():
    model = ACGAN().eval()
    noise = torch.randn(1, 100).expand(10, -1)
    with torch.no_grad():
        images = model.generator(model.latent(noise, torch.arange(10)))
    differences = (images[1:] - images[:1]).abs().flatten(1).amax(1)
    assert (differences > 1e-4).all()  # same noise, different label: a different image for every class


def test_predict_cycles_the_asked_classes():
    model = ACGAN(predict_classes=[3, 7])
    out = model.predict_step(torch.arange(10, 16), 0)
    assert out["labels"].tolist() == [3, 7, 3, 7, 3, 7]
    assert out["images"].shape == (6, 1, 28, 28)
    everything = ACGAN().predict_step(torch.arange(20), 0)
    assert everything["labels"].tolist() == list(range(10)) * 2


def test_bad_predict_classes():
    import pytest

    from lit_gans.errors import LitGansError

    for classes in ([], [10], [-1]):
        with pytest.raises(LitGansError, match="predict_classes must be a non-empty list of 0..9"):
            ACGAN(predict_classes=classes)

import math

import pytest
import torch
from torchmetrics.functional.classification import multiclass_confusion_matrix

from lit_gans.errors import LitGansError
from lit_gans.metrics import best_map_accuracy
from lit_gans.models import InfoGAN


def small_confusion(preds, labels, k=10):
    return multiclass_confusion_matrix(preds, labels, k)  # rows: labels, columns: clusters, as in validation


def test_hungarian_accuracy_on_permuted_and_random_labels():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(10, (5000,), generator=g)
    permutation = torch.randperm(10, generator=g)
    assert best_map_accuracy(small_confusion(permutation[labels], labels)) == 1.0
    random_clusters = torch.randint(10, (5000,), generator=g)
    assert abs(best_map_accuracy(small_confusion(random_clusters, labels)) - 0.1) < 0.03


def test_heads_and_latent_shapes():
    model = InfoGAN(categorical=[10, 4], continuous=3, learn_cont_std=True)
    inputs = model.sample_inputs(6)
    assert inputs["z"].shape == (6, 62 + 14 + 3) and model.generator.latent_dim == 79
    assert inputs["categories"].shape == (6, 2) and inputs["codes"].shape == (6, 3)
    assert inputs["codes"].abs().max() <= 1  # U(-1, 1) prior
    images = model.generator(inputs["z"])
    assert images.shape == (6, 1, 28, 28)
    source, h = model.discriminator(images)
    cat_logits, mean, log_std = model.discriminator.q(h)
    assert source.shape == (6,) and [c.shape for c in cat_logits] == [(6, 10), (6, 4)]
    assert mean.shape == (6, 3) and log_std.shape == (6, 3)


def test_info_loss_is_finite_and_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = InfoGAN()
    inputs = model.sample_inputs(64)
    params = [*model.generator.parameters(), *model.discriminator.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    values = []
    for _ in range(8):
        _, h = model.discriminator(model.generator(inputs["z"]))
        cat_ce, cont_nll = model.info_terms(h, inputs["categories"], inputs["codes"])
        loss = cat_ce + 0.1 * cont_nll
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        values.append(loss.item())
    assert values[0] > 0.9 * math.log(10)  # starts near chance: CE of a 10-way code ~ ln 10
    assert values[-1] < 0.5 * values[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"categorical": []}, "at least one code of size >= 2"),
        ({"categorical": [10, 1]}, "at least one code of size >= 2"),
        ({"predict_category": 10}, "predict_category must be in 0..9"),
        ({"predict_codes": [0.5]}, "needs 2 values"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(LitGansError, match=match):
        InfoGAN(**kwargs)


def test_predict_honours_category_and_codes():
    model = InfoGAN(predict_category=3, predict_codes=[0.5, -1.0])
    out = model.predict_step(torch.arange(5), 0)
    assert out["images"].shape == (5, 1, 28, 28)
    assert (out["categories"][:, 0] == 3).all()
    assert torch.equal(out["codes"], torch.tensor([[0.5, -1.0]]).expand(5, 2))

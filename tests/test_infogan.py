import math
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import TensorDataset
from torchmetrics.functional.classification import multiclass_confusion_matrix

from lit_gans.data import labelled_subset, to_unit_range
from lit_gans.errors import LitGansError
from lit_gans.measures import best_map_accuracy, identity_accuracy
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
    assert inputs["z"].shape == (6, 62 + 14 + 3) and model.generator.input_dim == 79
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
        ({"noise": "gaussian"}, "model.noise must be 'normal' or 'uniform'"),
        ({"noise_scale": 0.0}, "noise_scale and code_range must be > 0"),
        ({"code_range": -1.0}, "noise_scale and code_range must be > 0"),
        ({"labelled_per_class": -1}, "labelled_per_class, lambda_label and lambda_real_info must be >= 0"),
        ({"label_batch_size": 1}, "label_batch_size >= 2"),
        ({"lambda_real_info": -0.5}, "lambda_real_info must be >= 0"),
        ({"shift": -1}, "shift must be in 0..13 pixels"),
        ({"shift": 14}, "shift must be in 0..13 pixels"),
        ({"lambda_consistency": 1.0}, "lambda_consistency must be >= 0 and needs shift, rotate or shear > 0"),
        ({"lambda_consistency": -1.0, "shift": 2}, "lambda_consistency must be >= 0"),
        ({"rotate": -1.0}, r"rotate must be in \[0, 90\) degrees"),
        ({"rotate": 90.0}, r"rotate must be in \[0, 90\) degrees"),
        ({"shear": -5.0}, r"shear must be in \[0, 45\) degrees"),
        ({"shear": 45.0}, r"shear must be in \[0, 45\) degrees"),
        ({"move_fakes": True}, "move_fakes needs shift, rotate or shear > 0"),
        ({"labelled_per_class": 10, "categorical": [12]}, "the first categorical code.s size must be 10"),
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


def test_identity_accuracy_of_a_perfect_a_random_and_a_permuted_classifier():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(10, (5000,), generator=g)
    assert identity_accuracy(small_confusion(labels, labels)) == 1.0
    random_codes = torch.randint(10, (5000,), generator=g)
    assert abs(identity_accuracy(small_confusion(random_codes, labels)) - 0.1) < 0.03
    shifted = (labels + 1) % 10  # a perfect clustering under another naming: identity says 0, best mapping 1
    assert identity_accuracy(small_confusion(shifted, labels)) == 0.0
    assert best_map_accuracy(small_confusion(shifted, labels)) == 1.0


def test_default_priors_draw_exactly_what_the_paper_model_drew():
    # the defaults are the paper's, bit for bit: the same draws, in the same order, as before the prior options
    inputs = InfoGAN().sample_inputs(16, torch.Generator().manual_seed(1))
    rng = torch.Generator().manual_seed(1)
    noise, categories = torch.randn(16, 62, generator=rng), torch.randint(10, (16,), generator=rng)
    codes = torch.rand(16, 2, generator=rng) * 2 - 1
    assert torch.equal(inputs["z"][:, :62], noise) and torch.equal(inputs["categories"][:, 0], categories)
    assert torch.equal(inputs["codes"], codes)


def test_noise_prior_and_code_range():
    rng = torch.Generator().manual_seed(0)
    uniform = InfoGAN(noise="uniform", noise_scale=0.5, code_range=0.25).sample_inputs(4000, rng)
    z = uniform["z"][:, :62]
    assert z.abs().max() <= 0.5 and z.abs().max() > 0.49 and abs(z.mean()) < 0.01  # U(-0.5, 0.5)
    assert uniform["codes"].abs().max() <= 0.25 and uniform["codes"].abs().max() > 0.24  # U(-0.25, 0.25)
    normal = InfoGAN(noise_scale=0.1).sample_inputs(4000, rng)["z"][:, :62]
    assert abs(normal.std() - 0.1) < 0.002  # N(0, 0.1^2), ClusterGAN's


def test_few_label_mode_takes_the_asked_labels_and_teaches_q_with_them():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (300, 28, 28), dtype=torch.uint8)
    labels = torch.arange(10).repeat(30)
    model = InfoGAN(labelled_per_class=3, label_batch_size=16)
    model.trainer = SimpleNamespace(datamodule=SimpleNamespace(train_set=TensorDataset(images, labels)))
    model.setup("fit")
    assert model.labelled_labels.bincount().tolist() == [3] * 10
    chosen = labelled_subset(labels, 3, int(torch.initial_seed()) % 2**31)  # the seed's subset, from training
    assert torch.equal(model.labelled_images, to_unit_range(images[chosen]))
    assert "labelled_images" not in model.state_dict()  # drawn again from the seed, not saved
    opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    values = []
    for _ in range(10):
        loss = model.label_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
        values.append(loss.item())
    assert values[0] > 0.8 * math.log(10) and values[-1] < 0.5 * values[0]  # Q learns the 30 labelled images


def test_shift_moves_each_labelled_image_by_at_most_that_many_pixels():
    """shift 2: every labelled image Q sees is its own picture moved by -2..2 pixels in x and y, background
    coming in at the border; the labels stay with their images; 0 leaves them as they are."""
    torch.manual_seed(0)
    images = torch.randint(1, 256, (100, 28, 28), dtype=torch.uint8)  # no background pixel: a move shows
    labels = torch.arange(10).repeat(10)
    datamodule = SimpleNamespace(train_set=TensorDataset(images, labels))
    still = InfoGAN(labelled_per_class=2, label_batch_size=20)
    moved = InfoGAN(labelled_per_class=2, label_batch_size=20, shift=2)
    for model in (still, moved):
        model.trainer = SimpleNamespace(datamodule=datamodule)
        model.setup("fit")
    sources = {int(y): [] for y in labels}
    for image, y in zip(moved.labelled_images, moved.labelled_labels, strict=True):
        padded = torch.nn.functional.pad(image, (2, 2, 2, 2), value=-1.0)
        sources[int(y)] += [padded[:, i : i + 28, j : j + 28] for i in range(5) for j in range(5)]
    shifted, shifted_labels = moved.labelled_batch()
    assert shifted.shape == (20, 1, 28, 28)
    assert sorted(shifted_labels.tolist()) == sorted(moved.labelled_labels.tolist())
    for image, y in zip(shifted, shifted_labels, strict=True):  # one of its own label's 25 moves, exactly
        assert any(torch.equal(image, candidate) for candidate in sources[int(y)])
    assert (shifted == -1).any()  # some image did move: background came in
    plain, plain_labels = still.labelled_batch()
    assert not (plain == -1).any() and len(plain_labels) == 20


def bar_angles(images: torch.Tensor) -> torch.Tensor:
    """Each (1, H, W) image's bright pixels' main axis, in degrees from horizontal (second moments about the centre)."""
    weight = images[:, 0].add(1.0).clamp(min=0)  # background -1 weighs nothing
    h, w = weight.shape[-2:]
    y, x = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    xx, yy, xy = ((weight * a * b).sum(dim=(1, 2)) for a, b in ((x, x), (y, y), (x, y)))
    return torch.rad2deg(0.5 * torch.atan2(2 * xy, xx - yy))


def test_rotate_turns_each_moved_image_by_at_most_that_many_degrees():
    """rotate 20: each image move() gives is turned about its centre by its own angle in [-20, 20]; 0 turns nothing.
    The consistency term may then use rotate without shift."""
    bar = torch.full((64, 1, 28, 28), -1.0)
    bar[:, :, 13:15, 4:24] = 1.0  # a horizontal bar through the centre: its turn is its axis' angle
    assert bar_angles(bar).abs().max() < 0.01
    assert InfoGAN().move(bar) is bar
    torch.manual_seed(0)
    angles = bar_angles(InfoGAN(rotate=20.0, lambda_consistency=1.0).move(bar))
    assert angles.abs().max() <= 21.0  # within the range (a pixel grid's rounding aside)
    assert angles.abs().max() > 10.0 and angles.min() < 0 < angles.max()  # turned both ways, by different angles
    assert len(set(angles.round(decimals=2).tolist())) > 32


def test_shear_leans_vertical_strokes_and_keeps_horizontal_ones():
    """shear 20: a vertical bar leans by its own angle in [-20, 20] per image, both ways; a horizontal bar stays
    horizontal (where a turn would tilt it as much); 0 shears nothing. The consistency term may use shear alone."""
    vertical = torch.full((64, 1, 28, 28), -1.0)
    vertical[:, :, 4:24, 13:15] = 1.0
    horizontal = vertical.transpose(-1, -2).contiguous()
    assert InfoGAN().move(vertical) is vertical
    model = InfoGAN(shear=20.0, lambda_consistency=1.0)
    torch.manual_seed(0)
    lean = 90.0 - bar_angles(model.move(vertical)).abs()  # from vertical, whichever way
    assert lean.max() <= 21.0 and lean.max() > 10.0  # within the range (the pixel grid aside), and some lean far
    assert len(set(lean.round(decimals=2).tolist())) > 32  # an angle per image
    signed = bar_angles(model.move(vertical))
    assert (signed > 0).any() and (signed < 0).any()  # leaning both ways
    assert bar_angles(model.move(horizontal)).abs().max() < 1.0
    blank = torch.full((8, 1, 28, 28), -1.0)
    assert torch.equal(model.move(blank), blank)  # background comes in as background, no grey border


def test_few_label_fit_on_a_holdout_logs_the_identity_measure(run_cli):
    cli = run_cli(
        "fit",
        "--config=infogan",
        "--config=infogan_fewlabel",
        "--data.holdout=300",
        "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1",
        "--data.val_batch_size=300",
        "--trainer.log_every_n_steps=1",
    )
    model, dm = cli.model, cli.datamodule
    assert len(dm.train_set) == 59700 and len(dm.val_dataloader().dataset) == 300  # validated on the slice
    assert model.labelled_labels.bincount().tolist() == [10] * 10
    metrics = cli.trainer.logged_metrics
    assert {"info/label_ce", "val/code_accuracy", "val/code_accuracy_identity", "val/code_mi"} <= set(metrics)
    assert 0.0 <= float(metrics["val/code_accuracy_identity"]) <= float(metrics["val/code_accuracy"]) <= 1.0
    assert 0.0 <= float(metrics["val/code_mi"]) <= math.log(10) + 1e-6


def test_consistency_trains_q_on_moved_copies_of_the_real_batch(run_cli):
    """lambda_consistency > 0 (with shift) adds the KL of Q on moved real images from Q on the images themselves to
    D/Q's loss (logged as info/consistency); the same seed without it trains other weights."""
    args = ["fit", "--config=infogan", "--trainer.max_steps=2", "--trainer.limit_val_batches=0",
            "--trainer.log_every_n_steps=1", "--model.init_args.shift=2"]  # fmt: skip
    plain = run_cli(*args)
    consistent = run_cli(*args, "--model.init_args.lambda_consistency=1.0")
    metrics = consistent.trainer.logged_metrics
    assert "info/consistency" in metrics and "info/consistency" not in plain.trainer.logged_metrics
    assert float(metrics["info/consistency"]) >= 0.0
    q_plain, q_consistent = (dict(cli.model.discriminator.named_parameters()) for cli in (plain, consistent))
    assert not torch.equal(q_plain["q.out.weight"], q_consistent["q.out.weight"])
    args[-1] = "--model.init_args.rotate=15"  # turned copies, not moved ones: the term is there all the same
    turned = run_cli(*args, "--model.init_args.lambda_consistency=1.0").trainer.logged_metrics
    assert float(turned["info/consistency"]) > 1e-4  # an unturned copy is the batch itself: its KL would be 0


def test_move_fakes_has_q_read_the_code_from_moved_fakes(run_cli):
    """move_fakes: Q's categorical term reads sheared copies of the fakes, so Q learns other weights from the same
    seed (shear alone, without it or the consistency term, changes nothing: the paper's run)."""
    args = ["fit", "--config=infogan", "--trainer.max_steps=2", "--trainer.limit_val_batches=0",
            "--trainer.log_every_n_steps=1", "--model.init_args.shear=20"]  # fmt: skip
    plain, moved = run_cli(*args), run_cli(*args, "--model.init_args.move_fakes=true")
    q_plain, q_moved = (dict(cli.model.discriminator.named_parameters()) for cli in (plain, moved))
    assert not torch.equal(q_plain["q.out.weight"], q_moved["q.out.weight"])
    assert float(moved.trainer.logged_metrics["info/cat_ce"]) > 0.0


def test_real_info_teaches_q_from_the_real_batch(run_cli):
    """lambda_real_info > 0 adds Q's information on the real images to D/Q's loss (logged as info/real_info); the
    same seed without it trains other weights."""
    args = ["fit", "--config=infogan", "--trainer.max_steps=2", "--trainer.limit_val_batches=0",
            "--trainer.log_every_n_steps=1"]  # fmt: skip
    plain = run_cli(*args)
    real = run_cli(*args, "--model.init_args.lambda_real_info=1.0")
    metrics = real.trainer.logged_metrics
    assert "info/real_info" in metrics and "info/real_info" not in plain.trainer.logged_metrics
    assert 0.0 <= float(metrics["info/real_info"]) <= math.log(10) + 1e-5
    q_plain, q_real = (dict(cli.model.discriminator.named_parameters()) for cli in (plain, real))
    assert not torch.equal(q_plain["q.out.weight"], q_real["q.out.weight"])

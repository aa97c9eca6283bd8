"""The 2D toy: its mixtures and batches, the papers' measures on point sets with known answers, the point networks, D's
heat map, and the toy's configs through the CLI (fit, validate, predict, refused options)."""

import math

import pytest
import torch
from conftest import ROOT
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from lit_gans.callbacks import DiscriminatorMap
from lit_gans.callbacks.drawing import VIRIDIS
from lit_gans.cli import main
from lit_gans.errors import LitGansError
from lit_gans.measures import mode_coverage
from lit_gans.metrics import resolve_backbone
from lit_gans.models import ACGAN, GAN, WGANGP, InfoGAN
from lit_gans.points import FreshBatches, GaussianMixtureDataModule, mixture_centers

# ---- the mixtures ----------------------------------------------------------------------------------------------------


def test_the_ring_has_eight_distinct_modes_on_the_unit_circle_and_the_grid_25_two_apart():
    ring = mixture_centers("ring")
    assert ring.shape == (8, 2)
    torch.testing.assert_close(ring.norm(dim=1), torch.ones(8))
    gaps = torch.cdist(ring, ring) + 10 * torch.eye(8)
    assert gaps.min() == pytest.approx(2 * math.sin(math.pi / 8), abs=1e-6)  # neighbours 45 degrees apart, none twice
    grid = mixture_centers("grid")
    assert grid.shape == (25, 2) and set(grid.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert (torch.cdist(grid, grid) + 10 * torch.eye(25)).min() == 2.0
    with pytest.raises(LitGansError, match="ring or grid"):
        mixture_centers("spiral")


def test_the_datamodule_has_the_published_stds_and_the_same_validation_points_for_every_run():
    ring, grid = GaussianMixtureDataModule("ring"), GaussianMixtureDataModule("grid")
    assert (ring.std, grid.std) == (0.01, 0.05) and ring.img_shape == (2,) and grid.num_classes == 25
    torch.manual_seed(1)
    ring.setup("fit")
    torch.manual_seed(2)
    again = GaussianMixtureDataModule("ring")
    again.setup("fit")
    assert torch.equal(ring.val_set.tensors[0], again.val_set.tensors[0])  # a test split, whatever the run's seed
    points, modes = ring.val_set.tensors
    assert points.shape == (2500, 2) and set(modes.tolist()) == set(range(8))
    assert (points - ring.centers[modes]).std().item() == pytest.approx(0.01, rel=0.05)
    with pytest.raises(LitGansError, match="data.std must be > 0"):
        GaussianMixtureDataModule("ring", std=0.0)


def batches(seed=0, epoch=0, rank=0, batch_size=4):
    return FreshBatches(mixture_centers("ring"), 0.01, batch_size, 5, seed, lambda: epoch, rank)


def test_fresh_batches_repeat_with_the_seed_differ_by_epoch_rank_and_seed_and_resume_mid_epoch():
    first = [points for points, _ in batches()]
    assert len(first) == 5 and all(p.shape == (4, 2) for p in first)
    assert all(torch.equal(a, b) for a, b in zip(first, [p for p, _ in batches()], strict=True))
    for other in (batches(seed=1), batches(epoch=1), batches(rank=1)):
        assert not torch.equal(next(iter(other))[0], first[0])
    assert not torch.equal(next(iter(batches(seed=1)))[0], next(iter(batches(epoch=1)))[0])  # not seed + epoch
    stream = batches()
    drawn = iter(stream)
    next(drawn), next(drawn)
    resumed = batches()
    resumed.load_state_dict(stream.state_dict())  # as Lightning does from a checkpoint taken after two batches
    assert all(torch.equal(a, b) for a, b in zip([p for p, _ in resumed], first[2:], strict=True))


# ---- the measures: VEEGAN's definitions on point sets whose answers are known ----------------------------------------


def test_mode_coverage_counts_modes_with_a_high_quality_sample_and_the_share_within_three_std():
    centers, std = mixture_centers("ring"), 0.01
    assert mode_coverage(centers[[0, 3, 5]].repeat(10, 1), centers, std) == (3, 1.0)
    off = torch.tensor([[1.0, 0.0]])  # mode 0 is at (1, 0)
    assert mode_coverage(off + torch.tensor([[2.9 * std, 0.0]]), centers, std) == (1, 1.0)  # inside 3 std
    assert mode_coverage(off + torch.tensor([[0.0, 3.1 * std]]), centers, std) == (0, 0.0)  # just outside
    half = torch.cat([centers[:1].repeat(5, 1), torch.zeros(5, 2)])  # half on mode 0, half at the ring's centre
    assert mode_coverage(half, centers, std) == (1, 0.5)
    uneven = torch.cat([centers[:1].repeat(5, 1), centers[1:2]])
    assert mode_coverage(uneven, centers, std, min_count=2) == (1, 1.0)  # a stricter count: mode 1 has one sample
    assert mode_coverage(centers[:0], centers, std) == (0, 0.0)


@pytest.mark.parametrize("mixture", ["ring", "grid"])
def test_the_data_itself_covers_every_mode_with_the_chi_distribution_share_in_three_std(mixture):
    datamodule = GaussianMixtureDataModule(mixture)
    modes, good = mode_coverage(datamodule.points(20000, seed=3), datamodule.centers, datamodule.std)
    # a 2D Gaussian sample lies within 3 std of its mean with probability 1 - exp(-9/2) = 0.9889
    assert modes == len(datamodule.centers) and good == pytest.approx(1 - math.exp(-4.5), abs=0.003)


# ---- networks and variants -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", [GAN, WGANGP])
def test_the_point_networks_draw_and_score_points(variant):
    model = variant(arch="points", latent_dim=2, img_shape=(2,), num_classes=8)
    points = model.sample(7, seed=0)
    assert points.shape == (7, 2) and model.discriminator(points).shape == (7,)
    assert points.abs().max() > 0 and not any(isinstance(m, nn.Tanh) for m in model.generator.modules())


@pytest.mark.parametrize(
    "build",
    [
        lambda: GAN(arch="dcgan", img_shape=(2,)),
        lambda: WGANGP(img_shape=(2,)),
        lambda: ACGAN(img_shape=(2,), num_classes=8),
        lambda: InfoGAN(img_shape=(2,), num_classes=8),
    ],
    ids=["dcgan", "wgan_gp", "acgan", "infogan"],
)
def test_the_convolutional_networks_refuse_points_in_one_line(build):
    with pytest.raises(LitGansError, match=r"take images \(C, H, W\), but the data are points of shape \(2,\)"):
        build()


def test_image_perceptrons_refuse_points_and_point_networks_refuse_images():
    with pytest.raises(LitGansError, match="arch mlp builds image networks, but the data are points of shape"):
        GAN(arch="mlp", img_shape=(2,))
    with pytest.raises(LitGansError, match="arch points is for the 2D toy's points, but the data are images"):
        WGANGP(arch="points", img_shape=(1, 28, 28))


def test_fid_is_and_kid_do_not_apply_to_points():
    assert resolve_backbone("auto", "points") == "none" and resolve_backbone("none", "points") == "none"
    with pytest.raises(LitGansError, match="measure images, and the data are 2D points; use --metrics.backbone none"):
        resolve_backbone("evaluator", "points")


# ---- D's heat map ----------------------------------------------------------------------------------------------------


class Slope(nn.Module):
    """A stand-in D whose logit is ``scale`` times one coordinate of the point."""

    def __init__(self, axis: int, scale: float = 20.0):
        super().__init__()
        self.axis, self.scale = axis, scale

    def forward(self, x):
        return self.scale * x[:, self.axis]


def heat_map(model, datamodule) -> torch.Tensor:
    callback = DiscriminatorMap(num_points=200, size=64)
    callback.datamodule = datamodule  # what setup takes from the trainer
    (image, nrow), *_ = callback.make_images(model).values()
    assert nrow == 1 and image.shape[:2] == (1, 3) and image.shape[-1] == 64
    return image[0, :, -64:].add(1).div(2)  # the map under its caption, in [0, 1]


def test_the_heat_map_shows_d_over_the_plane_right_way_up_with_the_data_in_white():
    datamodule = GaussianMixtureDataModule("ring")
    model = GAN(arch="points", latent_dim=2, img_shape=(2,), loss="bce")
    purple, yellow = VIRIDIS[0].view(3, 1), VIRIDIS[-1].view(3, 1)
    model.discriminator = Slope(axis=0)  # D says "real" on the right, "generated" on the left
    picture = heat_map(model, datamodule)
    torch.testing.assert_close(picture[:, 32, 1:4], purple.expand(3, 3), atol=0.02, rtol=0)
    torch.testing.assert_close(picture[:, 32, -4:-1], yellow.expand(3, 3), atol=0.02, rtol=0)
    model.discriminator = Slope(axis=1)  # real above, generated below: y grows upwards in the picture
    picture = heat_map(model, datamodule)
    torch.testing.assert_close(picture[:, 1, 32:34], yellow.expand(3, 2), atol=0.02, rtol=0)
    torch.testing.assert_close(picture[:, -2, 32:34], purple.expand(3, 2), atol=0.02, rtol=0)
    # the data's point at the mode (0, 1) is drawn in white near the top centre (the ring fills [-1.5, 1.5]^2)
    row = round((1.5 - 1.0) / 3.0 * 63)
    assert (picture[:, row - 1 : row + 2, 30:34] > 0.99).all(dim=0).any()


def test_the_heat_map_of_a_critic_is_stretched_over_its_scores():
    datamodule = GaussianMixtureDataModule("grid")
    model = WGANGP(arch="points", latent_dim=2, img_shape=(2,))
    model.discriminator = Slope(axis=0, scale=-300.0)  # far outside a probability's range: scaled, not clipped
    picture = heat_map(model, datamodule)
    torch.testing.assert_close(picture[:, 20, 1], VIRIDIS[-1], atol=0.02, rtol=0)  # high on the left
    torch.testing.assert_close(picture[:, 20, -2], VIRIDIS[0], atol=0.02, rtol=0)


# ---- the configs through the CLI -------------------------------------------------------------------------------------

SHORT = ["--trainer.max_steps=40", "--trainer.val_check_interval=20", "--progress.every_n_steps=10"]


def scalars_and_images(log_dir):
    acc = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_a_ring_run_logs_its_measures_heat_maps_samples_and_strip(run_cli, tmp_path):
    cli = run_cli("fit", "--config=ring_gan", *SHORT)
    version = tmp_path / "lightning_logs" / "version_0"
    acc = scalars_and_images(version)
    assert [e.step for e in acc.Scalars("val/modes")] == [20, 40]
    assert all(0 <= e.value <= 8 for e in acc.Scalars("val/modes"))
    assert all(0 <= e.value <= 1 for e in acc.Scalars("val/high_quality"))
    assert "val/fid" not in acc.Tags()["scalars"]  # no image metrics on points, and no error either
    assert {"discriminator_map", "samples", "progress"} <= set(acc.Tags()["images"])
    pngs = sorted(p.name for p in (version / "images").glob("*.png"))
    assert pngs == [
        "discriminator_map_step000020.png",
        "discriminator_map_step000040.png",
        "progress.png",
        "samples_step000020.png",
        "samples_step000040.png",
    ]
    assert Image.open(version / "images" / "discriminator_map_step000040.png").size == (320, 320 + 28)  # + caption
    assert cli.model.hparams.img_shape == (2,) and cli.model.hparams.num_classes == 8


def test_the_grid_overlay_trains_on_25_modes(run_cli):
    cli = run_cli("fit", "--config=ring_hinge", "--config=grid", "--trainer.fast_dev_run=1")
    assert (
        cli.datamodule.mixture == "grid" and cli.model.hparams.num_classes == 25 and cli.model.hparams.loss == "hinge"
    )


def test_validate_and_predict_on_a_ring_checkpoint(run_cli, tmp_path, capsys):
    run_cli("fit", "--config=ring_wgan_gp", "--trainer.max_steps=2", "--trainer.limit_val_batches=0")
    ckpt = tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    cli = run_cli("validate", "--config=ring_wgan_gp", f"--ckpt_path={ckpt}")
    assert {"val/modes", "val/high_quality", "val/wasserstein"} <= set(cli.trainer.callback_metrics)
    out = tmp_path / "points.pt"
    run_cli("predict", "--config=ring_wgan_gp", f"--ckpt_path={ckpt}", "--samples.count=300", f"--samples.output={out}")
    samples = torch.load(out, weights_only=True)
    assert set(samples) == {"points"} and samples["points"].shape == (300, 2)
    assert samples["points"].dtype == torch.float32  # coordinates, not uint8 pixels
    assert Image.open(out.with_suffix(".png")).size == (320, 320)
    assert f"wrote 300 samples to {out} and a picture of them to" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option, message",
    [
        ("--metrics.backbone=evaluator", "FID, IS and KID measure images, and the data are 2D points"),
        ("--model.init_args.arch=dcgan", "the convolutional networks take images (C, H, W), but the data are points"),
    ],
)
def test_image_options_on_points_are_one_line_errors(capsys, monkeypatch, option, message):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config=ring_gan", option, "--trainer.fast_dev_run=1", "--trainer.logger=false"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lit_gans: error:") and message in err[0]


def test_the_toy_callbacks_refuse_image_data(run_cli, capsys):
    with pytest.raises(SystemExit):
        run_cli(
            "fit", "--config=tiny", "--trainer.callbacks+=lit_gans.callbacks.ModeCoverage", "--trainer.fast_dev_run=1"
        )
    assert "ModeCoverage is made for the 2D toy's points" in capsys.readouterr().err

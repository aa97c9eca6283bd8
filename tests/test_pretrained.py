"""Shipped models: each loads with today's code and re-measures its paper measure; packing; --ckpt_path pretrained."""

import pytest
import torch
from conftest import ROOT

from lit_gans import pretrained
from lit_gans.cli import main
from lit_gans.data import SHIPPED, load_split, to_unit_range
from lit_gans.errors import LitGansError
from lit_gans.evaluator import load_evaluator
from lit_gans.measures import SampleAccuracy, best_map_accuracy, identity_accuracy
from lit_gans.metrics import GenerativeMetrics
from lit_gans.models import GAN, InfoGAN

SHIPPED_MODELS = ["acgan", "dcgan", "gan", "infogan", "infogan_fewlabel"]  # the README's trained models in the box
BUDGET_MB = 40  # all shipped weights together
TOLERANCE = {  # measure -> how far a re-measure may land from the recorded value (another CPU rounds differently)
    "val/code_accuracy": 0.002,  # 20 of 10,000 test digits
    "val/code_accuracy_identity": 0.002,
    "val/sample_accuracy": 0.002,
    "val/fid": 0.02,  # relative: 2%
}


@pytest.fixture(scope="module")
def test_split():
    images, labels = load_split(SHIPPED, train=False)
    return to_unit_range(images), labels


@pytest.fixture(scope="module")
def real_statistics(test_split):
    metrics = GenerativeMetrics(dataset="mnist")
    for batch in test_split[0].split(500):  # the validation batches: the same real statistics as validate's
        metrics.update_real(batch)
    return metrics


def confusion_of_q(model, images, labels) -> torch.Tensor:
    confusion = torch.zeros(10, 10, dtype=torch.long)
    with torch.no_grad():
        for batch, truth in zip(images.split(500), labels.split(500), strict=True):
            _, h = model.discriminator(batch)
            codes = model.discriminator.q(h)[0][0].argmax(dim=1)
            confusion += torch.bincount(truth * 10 + codes, minlength=100).reshape(10, 10)
    return confusion


def remeasure(name: str, model, test_split, real_statistics) -> dict[str, float]:
    """The paper's measure of a shipped model, computed as ``validate`` computes it."""
    if name.startswith("infogan"):
        confusion = confusion_of_q(model, *test_split)
        return {
            "val/code_accuracy": best_map_accuracy(confusion),
            "val/code_accuracy_identity": identity_accuracy(confusion),
        }
    if name == "acgan":
        return {"val/sample_accuracy": SampleAccuracy(10, 1000).measure(model.draw_classes)}
    real_statistics.reset_fake()
    real_statistics.update_fake(model.sample(10000, seed=1234))  # GenerationMetrics' seed
    return {"val/fid": real_statistics.compute()["fid"].item()}


def test_every_shipped_model_is_there_within_the_size_budget():
    assert pretrained.names() == SHIPPED_MODELS
    megabytes = sum(pretrained.path_of(name).stat().st_size for name in SHIPPED_MODELS) / 1e6
    assert megabytes <= BUDGET_MB


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_a_shipped_model_loads_and_re_measures_its_recorded_numbers(name, test_split, real_statistics):
    model = pretrained.load(name)
    recorded = model.shipped["measured"]
    measured = remeasure(name, model, test_split, real_statistics)
    for key, value in measured.items():
        allowed = TOLERANCE[key] * (recorded[key] if key == "val/fid" else 1)
        assert value == pytest.approx(recorded[key], abs=allowed), (name, key)
    assert model.shipped["run"]["seed"] is not None and model.shipped["run"]["commit"]


def test_the_shipped_vanilla_gan_draws_every_digit(real_statistics):
    samples = GAN.load_pretrained().sample(10000, seed=0)
    with torch.no_grad():
        digits = torch.cat([load_evaluator()(batch).argmax(dim=1) for batch in samples.split(500)])
    assert torch.bincount(digits, minlength=10).min() > 0.02 * len(digits)  # no digit below 2% (even: 10%)


# ---- packing, loading and the CLI, on tiny runs and a folder of shipped files of their own ---------------------


def test_six_bit_rows_keep_each_weight_within_half_a_step_and_zero_exact():
    weights = torch.randn(7, 13, 3) * torch.arange(1, 8).view(7, 1, 1)  # rows of different scales; 39 values a row
    weights[2, 0, 0] = 0.0
    restored = pretrained.unpack(pretrained.pack(weights))
    step = weights.reshape(7, -1).abs().amax(dim=1) / pretrained.LEVELS
    assert restored.shape == weights.shape and restored[2, 0, 0] == 0.0
    assert ((restored - weights).reshape(7, -1).abs() <= step[:, None] / 2 + 1e-6).all()
    stored = pretrained.pack(weights)["int6"]
    assert stored.dtype == torch.uint8 and stored.numel() == (7 * 39 + 3) // 4 * 3  # four values in three bytes
    bias = torch.randn(5)
    assert torch.equal(pretrained.unpack(pretrained.pack(bias)), bias.half().float())


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Tiny DCGAN and InfoGAN runs and a folder of shipped files made from them, as ``pretrained.ship`` makes them:
    (folder, {name: the run's last.ckpt})."""
    root, folder = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("weights")
    checkpoints = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        for name in ("dcgan", "infogan"):
            cli = main(["fit", f"--config={name}", "--config=tiny", "--trainer.max_steps=2",
                        "--trainer.limit_val_batches=0", f"--trainer.default_root_dir={root / name}",
                        "--trainer.enable_progress_bar=false"])  # fmt: skip
            checkpoints[name] = next((root / name).rglob("last.ckpt"))
            data = torch.load(checkpoints[name], weights_only=True)["lit_gans"]["data"]
            run = {"configs": [name], "step": 2, "seed": 0, "commit": "test"}
            pretrained.save(cli.model, folder / f"{name}.pt", name=name, run=run, data=data)
    return folder, checkpoints


@pytest.fixture
def shipped_here(tiny_runs, monkeypatch):
    monkeypatch.setattr(pretrained, "WEIGHTS", tiny_runs[0])
    return tiny_runs[1]


def test_a_shipped_file_loads_its_own_networks_and_only_what_it_holds(shipped_here):
    dcgan = GAN.load_pretrained("dcgan")
    assert dcgan.discriminator is None and dcgan.generator_ema is None and not dcgan.training
    assert dcgan.shipped["data"]["class_names"][3] == "3 - three"
    infogan = InfoGAN.load_pretrained()
    assert infogan.discriminator is not None  # Q reads real digits: D travels with G
    images = infogan.sample(8, seed=0, categories=3)
    assert images.shape == (8, 1, 28, 28) and images.abs().max() <= 1
    with pytest.raises(LitGansError, match="shipped model infogan is a InfoGAN; load it with that class"):
        GAN.load_pretrained("infogan")
    with pytest.raises(LitGansError, match="no shipped model named 'nope'; the shipped models are dcgan, infogan"):
        pretrained.load("nope")


def test_the_shipped_generator_is_the_trained_one_to_within_its_rounding(shipped_here):
    original = GAN.load_from_checkpoint(shipped_here["dcgan"]).eval()
    shipped = GAN.load_pretrained("dcgan")
    a, b = original.sample(64, seed=1), shipped.sample(64, seed=1)  # both from the EMA G
    assert 0 < (a - b).abs().max() < 0.05  # six bits per weight: close, and not a copy of float32


def test_predict_from_a_shipped_model_reads_no_data(shipped_here, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("lit_gans.data.load_split", None)  # any read of the dataset would fail
    main(["predict", "--config=infogan", "--ckpt_path=pretrained", "--samples.count=8", "--data.data_dir=/nowhere"])
    samples = torch.load(tmp_path / "samples.pt", weights_only=True)
    assert samples["images"].shape == (8, 1, 28, 28)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.png", "samples.pt"]


def test_explore_a_shipped_model_reads_no_data_at_start(shipped_here, tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr("lit_gans.explore.serve", lambda model, **kwargs: seen.update(model=model, **kwargs))
    monkeypatch.setattr("lit_gans.data.load_split", None)
    monkeypatch.chdir(tmp_path)
    main(["explore", "--config=infogan", "--ckpt_path=pretrained", "--port=0"])
    assert seen["model"].shipped["name"] == "infogan" and seen["class_names"][0] == "0 - zero"
    assert seen["test_images"] is not None  # the real-image picker reads the test split only when asked


def test_validate_a_shipped_model_measures_it(shipped_here, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cli = main(["validate", "--config=infogan", "--ckpt_path=pretrained", "--trainer.limit_val_batches=2",
                "--metrics.num_eval_samples=200", f"--trainer.default_root_dir={tmp_path}",
                "--trainer.enable_progress_bar=false"])  # fmt: skip
    assert {"val/code_accuracy", "val/fid"} <= set(cli.trainer.callback_metrics)
    assert cli.model.shipped["name"] == "infogan"


def test_pretrained_without_a_matching_shipped_model_lists_them(shipped_here, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["predict", "--config=infogan", "--config=infogan_fewlabel", "--ckpt_path=pretrained"])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no shipped model was trained with this config" in line and "infogan: --config infogan" in line
    with pytest.raises(SystemExit):
        main(["fit", "--config=infogan", "--ckpt_path=pretrained"])
    assert "a fit cannot resume from it" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_image_folder_run_predicts_and_explores_after_its_folder_is_deleted(tmp_path, monkeypatch):
    from PIL import Image

    folder = tmp_path / "photos"
    for label in ("cats", "dogs"):
        (folder / label).mkdir(parents=True)
        for i in range(40):
            Image.new("RGB", (40, 36), (6 * i, 100 if label == "cats" else 0, 0)).save(folder / label / f"{i}.png")
    data = ["--data=ImageFolderDataModule", f"--data.root={folder}", "--data.image_size=32"]
    monkeypatch.chdir(tmp_path)
    main(["fit", "--config=acgan", "--config=tiny", *data, "--metrics.backbone=none", "--trainer.max_steps=2",
          "--trainer.limit_val_batches=0", "--trainer.enable_progress_bar=false"])  # fmt: skip
    for image in folder.rglob("*.png"):
        image.unlink()
    for label in folder.iterdir():
        label.rmdir()
    folder.rmdir()
    main(["predict", "--config=acgan", *data, "--ckpt_path=last", "--samples.count=6"])
    samples = torch.load(tmp_path / "samples.pt", weights_only=True)
    assert samples["images"].shape == (6, 3, 32, 32) and samples["labels"].tolist() == [0, 1, 0, 1, 0, 1]
    seen = {}
    monkeypatch.setattr("lit_gans.explore.serve", lambda model, **kwargs: seen.update(kwargs))
    main(["explore", "--config=acgan", *data, "--ckpt_path=last", "--port=0"])
    assert seen["class_names"] == ["cats", "dogs"]  # from the checkpoint: the folder is gone

"""Your own images: a folder generated here (RGB 40x48, so resizing and cropping happen), every variant fitted on it,
and the README's own-images example run as written."""

import logging
import re
import shlex

import numpy as np
import pytest
import torch
from conftest import KEEP_FOLDER, POINT_VARIANTS, ROOT, RUNS, batches_per_step, cache_env, pairs, run_module
from lightning import Trainer
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lit_gans.cli import main
from lit_gans.errors import LitGansError
from lit_gans.image_folder import ImageFolderDataModule

CHANNEL = {"blue": 2, "green": 1, "red": 0}  # class sub-folder -> the colour channel of its square
CLASSES = tuple(sorted(CHANNEL))  # labels follow the sorted names, as in torchvision's ImageFolder


def make_folder(root, per_class=12, classes=CLASSES, size=(40, 48)):
    """``per_class`` images of each class (PNG and JPEG in turn), H x W = ``size``: dark noise, a bright square in the
    class's colour channel at the centre, and a white band 3 pixels wide at the left edge that centre-cropping drops."""
    rng = np.random.default_rng(0)
    height, width = size
    for name in classes:
        folder = root / name if name else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
            pixels[12:28, 16:32, CHANNEL.get(name, 0)] = 255
            pixels[:, :3] = 255
            Image.fromarray(pixels).save(folder / f"{name or 'img'}{i}.{'png' if i % 2 else 'jpg'}", quality=95)
    return root


def split(rows) -> tuple[torch.Tensor, torch.Tensor]:
    """The images and labels of a training or validation split (rows of the cache, drawn in place by the module)."""
    return rows.images[rows.rows], rows.labels


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("images") / "shapes", per_class=16)  # 43 training images: 5 batches


def test_images_are_resized_centre_cropped_and_labelled_by_sub_folder(folder):
    dm = ImageFolderDataModule(str(folder), image_size=32, batch_size=8)
    assert dm.classes == list(CLASSES) and dm.num_classes == 3 and dm.img_shape == (3, 32, 32)
    dm.setup("fit")
    train, val = split(dm.train_set), split(dm.val_set)
    assert len(train[0]) + len(val[0]) == 48 and len(val[0]) == 5  # round(48 * 0.1) held out
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 3, 32, 32) and images.min() >= -1 and images.max() <= 1
    every = torch.cat([train[0], val[0]]).float()
    # 40x48 -> 32x38 -> the centre 32x32: the white band at the left edge is cut away, the square kept in its colour
    assert every[:, :, :, 0].mean() < 60
    for label, name in enumerate(CLASSES):
        centre = every[torch.cat([train[1], val[1]]) == label][:, :, 14:18, 14:18].mean(dim=(0, 2, 3))
        assert centre[CHANNEL[name]] > 200 and centre.argmax() == CHANNEL[name]
    val_images, val_labels = next(iter(dm.val_dataloader()))
    assert val_images.dtype == torch.float32 and val_images.min() >= -1 and set(val_labels.tolist()) <= {0, 1, 2}


def test_grayscale_64_and_a_flat_folder_without_labels(tmp_path):
    flat = make_folder(tmp_path / "flat", per_class=10, classes=("",))
    dm = ImageFolderDataModule(str(flat), image_size=64, channels=1, val_fraction=0.0, batch_size=4)
    assert dm.num_classes == 0 and dm.img_shape == (1, 64, 64)
    dm.setup("fit")
    assert split(dm.train_set)[0].shape == (10, 1, 64, 64) and len(dm.val_set) == 10  # val: the training images
    assert (dm.train_set.labels == 0).all()


def fit(folder, root, *args):
    return main(
        [
            "fit",
            *args[:1],  # the config, then the DataModule, then options of the DataModule
            "--data=ImageFolderDataModule",
            f"--data.root={folder}",
            "--data.batch_size=8",
            "--metrics.backbone=none",  # no Inception weights offline
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            *args[1:],
        ]
    )


@pytest.mark.parametrize(
    "configs",
    pairs([r for r in RUNS if r[-1].stem not in ("fashion_mnist", "tiny") and r[0] not in POINT_VARIANTS], KEEP_FOLDER),
    ids=lambda cs: "+".join(c.stem for c in cs),
)
def test_every_variant_fits_on_the_folder(folder, tmp_path, configs, monkeypatch):
    monkeypatch.chdir(ROOT)
    config = configs[-1]
    # the few-label mode ties code k to class k: a 3-way code and 2 labelled images per sub-folder here
    fewlabel = ["--model.init_args.categorical=[3]", "--model.init_args.labelled_per_class=2"]
    extra = fewlabel if config.stem == "infogan_fewlabel" else []
    given = [f"--config={c}" for c in configs]
    cli = fit(folder, tmp_path, *given, f"--trainer.fast_dev_run={batches_per_step(*configs)}", *extra)
    assert cli.trainer.global_step == 1
    assert cli.model.hparams.img_shape == (3, 32, 32) and cli.model.hparams.num_classes == 3
    assert cli.model.generator(cli.model.sample_inputs(2, torch.Generator())["z"]).shape == (2, 3, 32, 32)
    assert torch.isfinite(torch.stack([p.detach().sum() for p in cli.model.parameters()])).all()
    measured = cli.trainer.callback_metrics
    assert ("val/code_accuracy" in measured) == configs[0].stem.startswith("infogan")  # against the 3 sub-folders
    assert "val/sample_accuracy" not in measured  # no evaluator of these images to score AC-GAN's and cGAN's samples


@pytest.mark.parametrize("config", ["dcgan", "infogan"])
def test_unconditional_variants_fit_on_a_flat_folder(tmp_path, config, monkeypatch):
    monkeypatch.chdir(ROOT)
    flat = make_folder(tmp_path / "flat", per_class=20, classes=("",))
    cli = fit(flat, tmp_path, f"--config={config}", "--trainer.fast_dev_run=1", "--data.image_size=64")
    assert cli.trainer.global_step == 1 and cli.model.hparams.num_classes == 0
    assert "val/code_accuracy" not in cli.trainer.callback_metrics  # no labels: nothing to score the code against


def one_line_error(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config=dcgan", "--data=ImageFolderDataModule", "--trainer.fast_dev_run=1", *args])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lit_gans: error: ")
    return lines[0]


def test_a_folder_without_images_is_one_line(tmp_path, capsys):
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    (tmp_path / "empty" / "cats" / "notes.txt").write_text("not an image")
    assert "Found no valid file for the classes cats" in one_line_error(capsys, f"--data.root={tmp_path / 'empty'}")
    (tmp_path / "none").mkdir()
    assert f"no images in {tmp_path / 'none'}" in one_line_error(capsys, f"--data.root={tmp_path / 'none'}")


def test_an_unsupported_size_is_one_line(folder, capsys):
    line = one_line_error(capsys, f"--data.root={folder}", "--data.image_size=48")
    assert "data.image_size must be one of 28, 32, 64" in line and "got 48" in line
    with pytest.raises(LitGansError, match="28, 32, 64 pixels, not 48"):
        from lit_gans.models import GAN

        GAN(img_shape=(3, 48, 48))  # the networks say it too, for a DataModule of your own


def test_an_unreadable_image_is_named_in_one_line_without_a_traceback(tmp_path):
    broken = make_folder(tmp_path / "broken", per_class=8)
    (broken / "green" / "green3.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # a PNG header, then zeros
    args = ["--data", "ImageFolderDataModule", "--data.root", str(broken), "--data.batch_size", "4"]
    args += ["--metrics.backbone", "none"]
    result = run_module("fit", "--config", "dcgan", *args, cwd=tmp_path, env=cache_env(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert f"{broken / 'green' / 'green3.png'} is not a readable image" in line and "delete or replace it" in line
    assert not (tmp_path / "lightning_logs").exists()  # failed before training: no version folder left behind


def readme_example() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- own-images-example -->(.*?)<!-- /own-images-example -->", readme, flags=re.S)[1]
    commands = re.search(r"```bash\n(.*?)```", block, flags=re.S)[1]
    return [line for line in commands.splitlines() if line.startswith("python -m lit_gans")]


def test_the_readme_own_images_example_runs_as_written(tmp_path):
    (command,) = readme_example()
    make_folder(tmp_path / "my_images", per_class=30)  # the layout the README describes: one sub-folder per class
    quick = ["--trainer.max_steps", "2", "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false"]
    env = {"OMP_NUM_THREADS": "1", **cache_env(tmp_path)}
    result = run_module(*shlex.split(command)[3:], *quick, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "lightning_logs" / "version_0"
    events = EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    assert "samples" in events.Tags()["images"]  # what `tensorboard --logdir lightning_logs` shows
    assert list((run / "images").glob("samples_step*.png"))


def test_no_batch_per_process_under_ddp_is_refused(tmp_path):
    flat = make_folder(tmp_path / "flat", per_class=36, classes=("",))
    dm = ImageFolderDataModule(str(flat), val_fraction=0.0, batch_size=16)  # 36 images: two batches on one device
    dm.trainer = Trainer(accelerator="cpu", devices=3, strategy="ddp", logger=False)  # 12 images per process
    with pytest.raises(LitGansError, match="36 training images split over 3 processes leave 12 per process, no batch"):
        dm.setup("fit")


# ---- images read as they are: one rule per kind of file, checked on the decoded pixel values ---------------------


def palette(index: int, colours: list[int]) -> Image.Image:
    image = Image.new("P", (32, 32), index)
    image.putpalette(colours)
    return image


def palette_with_transparency() -> Image.Image:
    """Left half transparent (index 0, which hides white), right half opaque red (index 1)."""
    image = palette(1, [255, 255, 255, 255, 0, 0])
    image.paste(0, (0, 0, 16, 32))
    image.info["transparency"] = 0
    return image


def two_frames() -> list[Image.Image]:
    return [Image.new("RGB", (32, 32), (255, 0, 0)), Image.new("RGB", (32, 32), (0, 255, 0))]  # red, then green


KINDS = {  # kind -> (file name, make the image, save options)
    "16-bit gray PNG": ("a.png", lambda: Image.fromarray(np.full((32, 32), 32896, np.uint16)), {}),
    "32-bit int TIFF": ("a.tif", lambda: Image.fromarray(np.full((32, 32), 32896, np.int32), "I"), {}),
    "float TIFF in [0, 1]": ("a.tif", lambda: Image.fromarray(np.full((32, 32), 0.5, np.float32), "F"), {}),
    "palette GIF": ("a.gif", lambda: palette(1, [0, 0, 0, 255, 0, 0]), {}),
    "palette PNG with transparency": ("a.png", palette_with_transparency, {"transparency": 0}),
    "gray + alpha PNG": ("a.png", lambda: Image.new("LA", (32, 32), (200, 128)), {}),
    "RGBA PNG": ("a.png", lambda: Image.new("RGBA", (32, 32), (255, 255, 255, 51)), {}),
    "1-bit PNG": ("a.png", lambda: Image.new("1", (32, 32), 1), {}),
    "CMYK TIFF": ("a.tif", lambda: Image.new("CMYK", (32, 32), (255, 0, 0, 0)), {}),
    "animated GIF": ("a.gif", lambda: two_frames()[0], {"save_all": True, "append_images": two_frames()[1:]}),
    "PNG without an image extension": ("a.data", lambda: Image.new("RGB", (32, 32), (10, 20, 30)), {"format": "PNG"}),
}
EXPECTED = {  # kind -> (channels, the value of every pixel of each channel; left half, right half where they differ)
    "16-bit gray PNG": [(1, [128]), (3, [128, 128, 128])],  # 32896 / 257: scaled, not clipped to 255
    "32-bit int TIFF": [(1, [128])],  # read as 16-bit
    "float TIFF in [0, 1]": [(1, [128])],  # 0.5 * 255, rounded
    "palette GIF": [(3, [255, 0, 0]), (1, [76])],  # index 1 is red; its luma is 0.299 * 255
    "palette PNG with transparency": [(3, ([0, 0, 0], [255, 0, 0]))],  # transparent -> black, not the white it hides
    "gray + alpha PNG": [(1, [100])],  # 200 * 128 / 255 over black
    "RGBA PNG": [(3, [51, 51, 51])],  # white at alpha 0.2 over black
    "1-bit PNG": [(1, [255])],
    "CMYK TIFF": [(3, [0, 255, 255])],  # full cyan
    "animated GIF": [(3, [255, 0, 0])],  # the first frame
    "PNG without an image extension": [(3, [10, 20, 30])],  # Pillow reads it: accepted whatever its name
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_image_decodes_to_its_values(tmp_path, kind):
    name, make, options = KINDS[kind]
    folder = tmp_path / "one"
    folder.mkdir()
    make().save(folder / name, **options)
    for channels, values in EXPECTED[kind]:
        dm = ImageFolderDataModule(str(folder), image_size=32, channels=channels, val_fraction=0.0, batch_size=1)
        dm.setup("fit")
        (image,) = split(dm.train_set)[0]  # uint8 (C, 32, 32)
        halves = values if isinstance(values, tuple) else (values, values)
        for half, expected in zip((image[:, :, :16], image[:, :, 16:]), halves, strict=True):
            assert [set(channel.unique().tolist()) for channel in half] == [{v} for v in expected], (kind, channels)


def test_files_left_out_are_counted_and_named_in_one_line(tmp_path, caplog):
    folder = make_folder(tmp_path / "mixed", per_class=4, classes=("",))
    for i in range(4):
        Image.new("P", (40, 48), 1).save(folder / f"anim{i}.gif")  # GIFs: images, whatever torchvision's list says
    for name in ("notes.txt", "data.csv", "labels.json", "run.log"):
        (folder / name).write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0" * 10)  # hidden: ignored without a word
    with caplog.at_level(logging.INFO):
        dm = ImageFolderDataModule(str(folder), val_fraction=0.0, batch_size=4)
    assert len(dm.samples) == 8
    lines = [line for line in caplog.messages if "skipped" in line]
    assert lines == [f"lit_gans: skipped 4 of 12 files in {folder} that are not images (e.g. data.csv, labels.json, "
                     f"notes.txt, ...)"]  # fmt: skip

"""The decoded-image cache of an image folder: the network gets exactly the images the decoder gives, in the same
batches; a second run decodes nothing; changed files are decoded again and the rest reused; a failed or killed build
leaves no cache that looks valid; the split copies nothing; predict reads no image; links never loop."""

import builtins
import logging
import os
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import ROOT
from test_image_folder import make_folder
from torch.utils.data import DataLoader, TensorDataset

from lit_gans.cli import main
from lit_gans.data import ShuffledBatches
from lit_gans.errors import LitGansError
from lit_gans.image_cache import Progress
from lit_gans.image_folder import DecodedImages, ImageFolderDataModule, unit_range_batch


def decode_all(dm: ImageFolderDataModule) -> torch.Tensor:
    """Every image decoded in memory, as the module did before it had a cache: uint8 (N, C, S, S)."""
    channels, size, _ = dm.img_shape
    decoded = DecodedImages(dm.samples, size, "RGB" if channels == 3 else "L")
    return torch.stack([decoded[i][1] for i in range(len(decoded))])


def cache_files(dm: ImageFolderDataModule, pattern: str) -> list[Path]:
    return sorted(dm.cache_folder().glob(pattern))


@pytest.mark.parametrize(("image_size", "channels", "num_workers"), [(32, 3, 0), (64, 1, 2)])
def test_the_network_gets_the_decoders_images_in_the_same_batches(tmp_path, image_size, channels, num_workers):
    folder = make_folder(tmp_path / "shapes", per_class=12)  # 36 PNG and JPEG images, 40x48
    dm = ImageFolderDataModule(str(folder), image_size, channels, batch_size=8, num_workers=num_workers)
    dm.setup("fit")
    every = decode_all(dm)
    assert torch.equal(dm.train_set.images, every)  # byte for byte, whether decoded here or by worker processes
    labels = torch.tensor([label for _, label in dm.samples])
    order = torch.randperm(36, generator=torch.Generator().manual_seed(0))  # the module's split: 4 held out
    train, val = order[4:], order[:4]
    before = ShuffledBatches(every[train], labels[train], 8, int(torch.initial_seed()) % 2**31, lambda: 0)
    for (old, old_labels), (new, new_labels) in zip(before, dm.train_dataloader(), strict=True):
        assert torch.equal(old, new) and torch.equal(old_labels, new_labels)
    before = DataLoader(TensorDataset(every[val], labels[val]), batch_size=500, collate_fn=unit_range_batch)
    for (old, old_labels), (new, new_labels) in zip(before, dm.val_dataloader(), strict=True):
        assert torch.equal(old, new) and torch.equal(old_labels, new_labels)


def test_the_split_reads_the_cache_file_in_place(tmp_path):
    dm = ImageFolderDataModule(str(make_folder(tmp_path / "shapes")), batch_size=8)
    dm.setup("fit")
    (cache,) = cache_files(dm, "images.*.npy")
    pointers = [split.images.data_ptr() for split in (dm.train_set, dm.val_set)]  # mapped on first use
    mapped = [line.split() for line in Path("/proc/self/maps").read_text().splitlines() if line.endswith(str(cache))]
    spans = [[int(address, 16) for address in fields[0].split("-")] for fields in mapped]
    for pointer in pointers:  # both point into the mapped file: neither is a copy
        assert any(start <= pointer < end for start, end in spans)
    assert len(dm.train_set.images) == len(dm.val_set.images) == 36 and len(dm.train_set) == 32


def test_a_second_run_decodes_nothing(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "shapes")
    first = ImageFolderDataModule(str(folder), batch_size=8)
    first.setup("fit")
    opened = []
    monkeypatch.setattr(PIL.Image, "open", lambda *args, **kwargs: opened.append(args))
    second = ImageFolderDataModule(str(folder), batch_size=8)
    second.setup("fit")
    assert opened == [] and torch.equal(second.train_set.images, first.train_set.images)
    assert len(cache_files(second, "images.*.npy")) == 1 and len(cache_files(second, "files.*.json")) == 1


def test_changed_files_are_decoded_again_and_the_others_reused(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "shapes")
    ImageFolderDataModule(str(folder), batch_size=8).setup("fit")
    changed = folder / "red" / "red0.jpg"
    PIL.Image.new("RGB", (40, 48), (0, 255, 0)).save(changed)
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))  # even on a coarse clock, a new mtime
    (folder / "blue" / "blue1.png").unlink()
    PIL.Image.new("RGB", (48, 40), (9, 9, 9)).save(folder / "green" / "new.png")
    decoded, get = [], DecodedImages.__getitem__

    def counted(self, index):
        decoded.append(self.samples[index][0])
        return get(self, index)

    monkeypatch.setattr(DecodedImages, "__getitem__", counted)
    dm = ImageFolderDataModule(str(folder), batch_size=8)
    dm.setup("fit")
    assert sorted(decoded) == [str(folder / "green" / "new.png"), str(changed)]
    assert torch.equal(dm.train_set.images, decode_all(dm))
    assert len(cache_files(dm, "images.*.npy")) == 1 and len(cache_files(dm, "files.*.json")) == 1  # old one gone


def test_a_failed_build_leaves_no_cache_that_looks_valid(tmp_path):
    folder = make_folder(tmp_path / "shapes")
    (folder / "green" / "green3.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # a PNG header, then zeros
    dm = ImageFolderDataModule(str(folder), batch_size=8)
    stale = dm.cache_folder() / "images.0123.npy.tmp-99999"  # left by a build killed two hours ago
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    with pytest.raises(LitGansError, match="green3.png is not a readable image"):
        dm.setup("fit")
    assert os.listdir(dm.cache_folder()) == []  # no cache, no temporary file, the stale one removed
    (folder / "green" / "green3.png").unlink()
    dm = ImageFolderDataModule(str(folder), batch_size=8)
    dm.setup("fit")
    assert torch.equal(dm.train_set.images, decode_all(dm))


KILLED_BUILD = """
import os, signal, sys
from lit_gans import image_cache
from lit_gans.image_folder import ImageFolderDataModule
write = image_cache.ChunkWriter.__getitem__
def write_then_die(self, task):
    if task == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer or a power cut would, mid-build
    return write(self, task)
image_cache.ChunkWriter.__getitem__ = write_then_die
image_cache.CHUNK = 8
ImageFolderDataModule(sys.argv[1], batch_size=8, cache_dir=sys.argv[2]).setup("fit")
"""


def test_a_killed_build_leaves_no_cache_that_looks_valid(tmp_path):
    folder = make_folder(tmp_path / "shapes")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", KILLED_BUILD, str(folder), str(tmp_path / "cache")]
    assert subprocess.run(args, env=env, capture_output=True, cwd=tmp_path).returncode == -signal.SIGKILL
    dm = ImageFolderDataModule(str(folder), batch_size=8, cache_dir=str(tmp_path / "cache"))
    assert cache_files(dm, "images.*.npy") == [] and len(cache_files(dm, "*.tmp-*")) == 1  # only the unfinished file
    dm.setup("fit")
    assert torch.equal(dm.train_set.images, decode_all(dm))


def test_progress_is_shown_while_decoding(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Progress, "in_log", 0.0)  # a line per chunk of 8, as a slow decode shows one per 15 s
    monkeypatch.setattr("lit_gans.image_cache.CHUNK", 8)
    ImageFolderDataModule(str(make_folder(tmp_path / "shapes")), batch_size=8).setup("fit")
    lines = capsys.readouterr().err.splitlines()
    progress = [line.split(" images (")[0] for line in lines if line.startswith("lit_gans: decoding shapes: ")]
    assert progress == [f"lit_gans: decoding shapes: {n} / 36" for n in (8, 16, 24, 32, 36)]
    assert any(line.startswith("lit_gans: decoded 36 images of shapes in ") for line in lines)


def test_a_cache_the_disk_cannot_hold_is_refused_before_decoding(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("lit_gans.image_cache.shutil.disk_usage", lambda path: usage(10**6, 10**6 - 5000, 5000))
    dm = ImageFolderDataModule(str(make_folder(tmp_path / "shapes")), batch_size=8)
    with pytest.raises(LitGansError, match=r"the decoded images need 0.1 MB in .*, only 0.0 MB free there; free some"):
        dm.setup("fit")  # 36 x 3 x 32 x 32 bytes


def test_predict_reads_no_image(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "shapes")
    images = {str(path) for path in folder.rglob("*.*")}
    touched = []
    for module, name in ((builtins, "open"), (os, "open"), (os, "stat"), (PIL.Image, "open")):
        real = getattr(module, name)

        def watched(path, *args, real=real, **kwargs):
            if str(path) in images:  # opened, or even looked at: the class names need only the sub-folders' names
                touched.append(str(path))
            return real(path, *args, **kwargs)

        monkeypatch.setattr(module, name, watched)
    dm = ImageFolderDataModule(str(folder), image_size=64, batch_size=8)
    dm.setup("predict")
    assert len(list(dm.predict_dataloader())) == 1
    assert dm.class_names == ["blue", "green", "red"] and dm.img_shape == (3, 64, 64) and dm.num_classes == 3
    assert touched == [] and not dm.cache_folder().exists()


def test_predict_on_a_folder_of_unreadable_images_draws_its_samples(tmp_path, monkeypatch):
    for name in ("cats", "dogs"):  # the shape and the class names are there; no file is an image
        (tmp_path / "pets" / name).mkdir(parents=True)
        (tmp_path / "pets" / name / "a.png").write_bytes(b"not a png")
    monkeypatch.chdir(ROOT)
    out = tmp_path / "samples.pt"
    main(
        ["predict", "--config=cgan", "--data=ImageFolderDataModule", f"--data.root={tmp_path / 'pets'}",
         "--ckpt_path=untrained", "--samples.count=4", f"--samples.output={out}",
         f"--trainer.default_root_dir={tmp_path}", "--trainer.enable_progress_bar=false"]
    )  # fmt: skip
    assert torch.load(out, weights_only=True)["images"].shape == (4, 3, 32, 32)


def test_links_are_followed_once_and_what_is_left_out_is_said(tmp_path, caplog):
    folder = make_folder(tmp_path / "pets", per_class=3, classes=("cats", "dogs"))
    outside = make_folder(tmp_path / "elsewhere", per_class=2, classes=("more",)) / "more"
    (folder / "cats" / "loop").symlink_to(folder)  # back up to the top: endless for os.walk
    (folder / "cats" / "more").symlink_to(outside)  # a folder elsewhere: followed, its images are cats
    (folder / "dogs" / "also_more").symlink_to(outside)  # a second way to it: its images count once
    (folder / "dogs" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    with caplog.at_level(logging.INFO):
        dm = ImageFolderDataModule(str(folder), val_fraction=0.0, batch_size=2)
        samples = dm.samples
    names = [(Path(path).relative_to(folder).as_posix(), label) for path, label in samples]
    cats = ["cats/cats0.jpg", "cats/cats1.png", "cats/cats2.jpg", "cats/more/more0.jpg", "cats/more/more1.png"]
    dogs = ["dogs/dogs0.jpg", "dogs/dogs1.png", "dogs/dogs2.jpg"]  # not also_more/: already read as cats/more
    assert names == [(name, 0) for name in cats] + [(name, 1) for name in dogs]
    assert [line for line in caplog.messages if "skipped" in line] == [
        f"lit_gans: in {folder}, skipped 2 links to a folder already read (a loop, or a second way to it), not "
        f"followed so that no image counts twice (e.g. cats/loop, dogs/also_more); 1 link to nothing (e.g. "
        f"dogs/gone.jpg)"
    ]
    dm.setup("fit")
    assert torch.equal(dm.train_set.images, decode_all(dm))


def test_an_unreadable_sub_folder_is_said(tmp_path, caplog, monkeypatch):
    folder = make_folder(tmp_path / "pets", per_class=3, classes=("cats",))
    (folder / "cats" / "private").mkdir()
    scandir = os.scandir

    def no_entry(path):  # as chmod 0 does for anyone but root (these tests may run as root)
        if isinstance(path, str) and path.endswith(f"{os.sep}private"):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", no_entry)
    with caplog.at_level(logging.INFO):
        assert len(ImageFolderDataModule(str(folder), val_fraction=0.0, batch_size=2).samples) == 3
    assert [line for line in caplog.messages if "skipped" in line] == [
        f"lit_gans: in {folder}, skipped 1 folder that cannot be read (cats/private: Permission denied)"
    ]


def test_an_unwritable_cache_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    dm = ImageFolderDataModule(str(make_folder(tmp_path / "shapes")), batch_size=8, cache_dir=str(blocker))
    with pytest.raises(LitGansError, match=r"cannot write the image cache in .*; pass --data.cache_dir pointing to"):
        dm.setup("fit")


def test_the_cache_file_is_a_numpy_array_of_the_rows(tmp_path):
    dm = ImageFolderDataModule(str(make_folder(tmp_path / "shapes")), image_size=28, channels=1, batch_size=8)
    dm.setup("validate")
    (cache,) = cache_files(dm, "images.*.npy")
    assert np.load(cache).shape == (36, 1, 28, 28) and cache.parent.name.startswith("shapes-28px-gray-")


def test_a_damaged_cache_file_is_decoded_again(tmp_path):
    dm = ImageFolderDataModule(str(make_folder(tmp_path / "shapes")), batch_size=8)
    dm.setup("fit")
    (cache,) = cache_files(dm, "images.*.npy")
    with open(cache, "r+b") as file:
        file.truncate(cache.stat().st_size // 2)  # a disk error, or a copy cut short
    dm = ImageFolderDataModule(str(tmp_path / "shapes"), batch_size=8)
    dm.setup("fit")
    assert torch.equal(dm.train_set.images, decode_all(dm)) and cache.stat().st_size > 36 * 3 * 32 * 32

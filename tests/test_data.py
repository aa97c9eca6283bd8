import gzip
import re
import shutil
from pathlib import Path

import pytest
import torch
from torchvision.datasets.utils import extract_archive

from lit_gans import data
from lit_gans.data import FILES, SHIPPED, MNISTDataModule, ShuffledBatches, load_split, to_uint8, to_unit_range
from lit_gans.errors import LitGansError


def test_shipped_mnist_shapes_range_labels():
    dm = MNISTDataModule(batch_size=64)
    dm.prepare_data()
    dm.setup("fit")
    x, y = dm.train_set.tensors
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8  # 4x smaller; batches are normalised
    assert x.min() == 0 and x.max() == 255
    assert torch.equal(y.unique(), torch.arange(10))
    assert y.bincount().tolist()[:3] == [5923, 6742, 5958]  # the published MNIST train label counts
    xv, yv = dm.val_set.tensors
    assert xv.shape == (10000, 1, 28, 28) and len(yv) == 10000
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (64, 1, 28, 28) and labels.shape == (64,)
    assert images.dtype == torch.float32 and images.min() == -1.0 and images.max() <= 1.0
    assert dm.img_shape == (1, 28, 28) and dm.num_classes == 10


def test_shipped_fashion_mnist_shapes_range_labels():
    dm = MNISTDataModule(batch_size=64, dataset="fashion_mnist")
    assert dm.data_dir == SHIPPED and dm.folder == "FashionMNIST"
    dm.prepare_data()
    dm.setup("fit")
    x, y = dm.train_set.tensors
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8
    assert y.bincount().tolist() == [6000] * 10  # Fashion-MNIST's balanced classes
    assert abs(x.float().div(255).mean().item() - 0.2860) < 5e-4  # the published pixel mean (MNIST's is 0.1307)
    xv, yv = dm.val_set.tensors
    assert xv.shape == (10000, 1, 28, 28) and yv.bincount().tolist() == [1000] * 10
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (64, 1, 28, 28) and images.min() == -1.0 and images.max() <= 1.0
    assert dm.img_shape == (1, 28, 28) and dm.num_classes == 10 and dm.dataset == "fashion_mnist"


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(LitGansError, match="unknown data.dataset 'cifar10'; the choices are mnist, fashion_mnist"):
        MNISTDataModule(dataset="cifar10")


def test_missing_fashion_mnist_names_its_folder(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False, dataset="fashion_mnist")
    with pytest.raises(LitGansError, match=r"FashionMNIST not found in .*FashionMNIST/raw and download is off"):
        dm.prepare_data()


def test_uint8_round_trip():
    u = torch.arange(256, dtype=torch.uint8).view(1, 16, 16)
    assert torch.equal(to_uint8(to_unit_range(u)).squeeze(1), u)


def test_missing_folder_is_one_clear_error(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(LitGansError, match="nowhere.*MNIST/raw"):
        dm.prepare_data()
    assert not (tmp_path / "nowhere").exists()  # nothing created


def test_empty_folder_without_download(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(LitGansError, match="train-images-idx3-ubyte.gz"):
        dm.prepare_data()


def _copy_raw(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        shutil.copy(SHIPPED / "MNIST" / "raw" / f"{name}.gz", raw / f"{name}.gz")
    return raw


def test_load_split_reads_a_folder_of_gz_files_alone(tmp_path):
    raw = _copy_raw(tmp_path)  # only the .gz files, as ../shared/data holds them: no caller has to extract first
    images, labels = load_split(tmp_path, train=False)
    assert images.shape == (10000, 28, 28) and labels[:5].tolist() == [7, 2, 1, 0, 4]  # the published first labels
    assert (raw / "t10k-images-idx3-ubyte").is_file()


def _cut(path, size):
    path.write_bytes(path.read_bytes()[:size])


def _replace_gz(path, size):
    """A gzip file that is whole but holds only the first ``size`` bytes of the idx file."""
    with gzip.open(path) as f:
        content = f.read()
    path.write_bytes(gzip.compress(content[:size]))


def _extracted(path, content):
    path.with_suffix("").write_bytes(content(path))
    path.unlink()


def test_an_idx_file_appears_at_its_name_only_whole(tmp_path, monkeypatch):
    """Runs started together on a fresh clone each extract: none may find a half-written idx file at its name."""
    raw = _copy_raw(tmp_path)
    seen = []

    def extract(gz, to):
        out = extract_archive(gz, to)
        seen.append((raw / Path(gz).stem).exists())  # what another run would find now, while this one writes
        return out

    monkeypatch.setattr(data, "extract_archive", extract)
    assert data.extract_shipped(tmp_path)
    assert seen == [False] * len(FILES)
    assert sorted(p.name for p in raw.iterdir()) == sorted([*FILES, *(f"{n}.gz" for n in FILES)])  # nothing else
    assert load_split(tmp_path, train=False)[1][:3].tolist() == [7, 2, 1]


@pytest.mark.parametrize(
    "name, damage, culprit",
    [
        ("train-labels-idx1-ubyte.gz", lambda p: _cut(p, 0), "train-labels-idx1-ubyte.gz is corrupt (an empty file)"),
        ("train-labels-idx1-ubyte.gz", lambda p: _cut(p, 100), "train-labels-idx1-ubyte.gz is corrupt (Compressed"),
        ("t10k-images-idx3-ubyte.gz", lambda p: _replace_gz(p, 5000), "t10k-images-idx3-ubyte.gz is corrupt (it holds"),
        ("t10k-labels-idx1-ubyte.gz", lambda p: _extracted(p, lambda _: b""), "t10k-labels-idx1-ubyte is corrupt (0"),
        (
            "t10k-images-idx3-ubyte.gz",
            lambda p: _extracted(p, lambda p: gzip.open(p).read()[:5000]),
            "t10k-images-idx3-ubyte is corrupt (5000 bytes, expected 7840016)",
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            lambda p: _extracted(p, lambda _: b"\x00\x00\x09\x99" + bytes(10004)),
            "t10k-labels-idx1-ubyte is corrupt (not a valid idx file",
        ),
    ],
    ids=["empty-gz", "truncated-gz", "gz-of-a-cut-file", "empty-idx", "truncated-idx", "wrong-magic"],
)
def test_corrupt_files_are_named_never_not_found(tmp_path, name, damage, culprit):
    raw = _copy_raw(tmp_path)
    damage(raw / name)
    dm = MNISTDataModule(data_dir=str(tmp_path), download=True)  # download on: still not sent looking for it
    with pytest.raises(LitGansError) as error:
        dm.prepare_data()
        dm.setup("fit")
    message = str(error.value)
    assert culprit in message and "not found" not in message
    assert not [p.name for p in raw.iterdir() if p.name.startswith(".")]  # no half-extracted copy left behind
    fix = "run again to download it" if culprit.split()[0].endswith(".gz") else "the .gz beside it is extracted again"
    assert fix in message


def test_a_corrupt_shipped_file_says_how_to_restore_it(monkeypatch, tmp_path):
    raw = _copy_raw(tmp_path / "data")  # tmp_path plays a clone of the repo
    (tmp_path / ".git").mkdir()
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(b"")
    monkeypatch.setattr(data, "SHIPPED", tmp_path / "data")
    expected = f"restore it with: git -C {tmp_path} checkout -- data/MNIST/raw/train-labels-idx1-ubyte.gz"
    with pytest.raises(LitGansError, match=re.escape(expected)):
        MNISTDataModule().prepare_data()


def test_default_data_dir_does_not_depend_on_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert MNISTDataModule().data_dir == SHIPPED  # the repo's copy, found beside the package
    monkeypatch.setattr(data, "SHIPPED", tmp_path / "no-repo")  # an install without the repo's data/
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dm = MNISTDataModule(download=False)
    assert dm.data_dir == tmp_path / "cache" / "lit_gans"
    with pytest.raises(LitGansError, match=r"MNIST not found in .*no-repo/MNIST/raw or .*cache/lit_gans/MNIST/raw"):
        dm.prepare_data()
    assert MNISTDataModule(data_dir=str(tmp_path / "mine")).data_dir == tmp_path / "mine"  # the option still wins


def test_batches_resume_mid_epoch_where_they_stopped():
    images, labels = torch.arange(1000).to(torch.uint8).view(-1, 1, 1).expand(-1, 28, 28), torch.arange(1000)
    epoch = [0]
    first = ShuffledBatches(images, labels, 10, seed=3, epoch=lambda: epoch[0])
    epoch[0] = 2
    whole = [y for _, y in first]
    it = iter(first)
    drawn = [next(it)[1] for _ in range(7)]
    state = first.state_dict()
    assert state == {"seed": 3, "epoch": 2, "batches": 7}
    resumed = ShuffledBatches(images, labels, 10, seed=99, epoch=lambda: epoch[0])  # a new process, another seed
    resumed.load_state_dict(state)
    rest = [y for _, y in resumed]
    assert all(torch.equal(a, b) for a, b in zip(drawn + rest, whole, strict=True))  # the same epoch, once
    assert len(list(resumed)) == 100  # the next pass is a whole epoch again


@pytest.mark.parametrize("name", ["batch_size", "val_batch_size"])
def test_non_positive_batch_size(name):
    with pytest.raises(LitGansError, match=f"data.{name} must be a positive integer"):
        MNISTDataModule(**{name: 0})


def test_batches_shard_like_distributed_sampler():
    images, labels = load_split(SHIPPED, train=False)
    shards = [ShuffledBatches(images, labels, 100, seed=0, epoch=lambda: 0, rank=r, world=2) for r in range(2)]
    seen = []
    for shard in shards:
        assert len(shard) == 50  # 10,000 images / 2 ranks / 100 per batch
        for x, y in shard:
            assert x.shape == (100, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
            seen.append(y)
    assert len(torch.cat(seen)) == 10000
    epoch = [0]
    shard = ShuffledBatches(images, labels, 100, seed=0, epoch=lambda: epoch[0])
    first = next(iter(shard))[1]
    epoch[0] = 1
    assert not torch.equal(first, next(iter(shard))[1])  # a new order every epoch


# ---- the held-out slice (InfoGAN's screen) and the labelled subset (its few-label mode) ---------------------------


def test_split_holdout_is_a_seeded_partition():
    train, held = data.split_holdout(1000, 100, seed=3)
    assert len(held) == 100 and len(train) == 900
    assert set(train.tolist()).isdisjoint(held.tolist())  # no held-out image is trained on
    assert sorted(train.tolist() + held.tolist()) == list(range(1000))
    again_train, again_held = data.split_holdout(1000, 100, seed=3)
    assert torch.equal(held, again_held) and torch.equal(train, again_train)
    assert not torch.equal(held, data.split_holdout(1000, 100, seed=4)[1])  # another seed, another slice
    with pytest.raises(LitGansError, match="data.holdout must be in 0..999"):
        data.split_holdout(1000, 1000, seed=0)


def test_labelled_subset_has_exactly_the_asked_count_per_class():
    labels = torch.arange(10).repeat_interleave(torch.arange(20, 30))  # 20..29 examples of the ten classes
    index = data.labelled_subset(labels, 7, seed=0)
    assert labels[index].bincount().tolist() == [7] * 10
    assert len(set(index.tolist())) == 70  # no example twice
    assert torch.equal(index, data.labelled_subset(labels, 7, seed=0))
    assert not torch.equal(index, data.labelled_subset(labels, 7, seed=1))
    with pytest.raises(LitGansError, match="only 20 training images of class 0; asked 21 per class"):
        data.labelled_subset(labels, 21, seed=0)


def test_holdout_takes_the_validation_images_out_of_training():
    torch.manual_seed(5)  # what seed_everything(5) sets: the slice is the run's
    dm = MNISTDataModule(holdout=500, val_batch_size=250)
    dm.setup("fit")
    images, labels = load_split(SHIPPED, train=True)
    train, held = data.split_holdout(60000, 500, seed=5)
    assert torch.equal(dm.train_set.tensors[0], images[train]) and len(dm.train_set) == 59500
    held_images, held_labels = (torch.cat(parts) for parts in zip(*dm.val_dataloader(), strict=True))
    assert torch.equal(held_images, to_unit_range(images[held])) and torch.equal(held_labels, labels[held])
    assert len(dm.test_dataloader().dataset) == 10000  # test still scores the test split
    with pytest.raises(LitGansError, match="data.holdout must be >= 0"):
        MNISTDataModule(holdout=-1)

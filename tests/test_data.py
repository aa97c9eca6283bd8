import gzip
import shutil

import pytest
import torch

from lit_gans.data import FILES, DeviceBatches, MNISTDataModule, load_split, to_uint8, to_unit_range
from lit_gans.errors import LitGansError


def test_shipped_mnist_shapes_range_labels():
    dm = MNISTDataModule(data_dir="data", batch_size=64)
    dm.prepare_data()
    dm.setup("fit")
    x, y = dm.train_set.tensors
    assert x.shape == (60000, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert torch.equal(y.unique(), torch.arange(10))
    assert y.bincount().tolist()[:3] == [5923, 6742, 5958]  # the published MNIST train label counts
    xv, yv = dm.val_set.tensors
    assert xv.shape == (10000, 1, 28, 28) and len(yv) == 10000
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (64, 1, 28, 28) and labels.shape == (64,)
    assert dm.img_shape == (1, 28, 28) and dm.num_classes == 10


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
        shutil.copy(f"data/MNIST/raw/{name}.gz", raw / f"{name}.gz")
    return raw


def test_wrong_magic_number(tmp_path):
    raw = _copy_raw(tmp_path)
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x09\x99" + bytes(100))
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(LitGansError, match="t10k-labels-idx1-ubyte is not a valid MNIST idx file"):
        dm.setup("fit")


def test_truncated_images(tmp_path):
    raw = _copy_raw(tmp_path)
    data = gzip.open(raw / "t10k-images-idx3-ubyte.gz").read()
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    (raw / "t10k-images-idx3-ubyte").write_bytes(data[: len(data) // 2])
    with pytest.raises(LitGansError, match="t10k-images-idx3-ubyte"):
        MNISTDataModule(data_dir=str(tmp_path), download=False).setup("validate")


def test_corrupt_gzip(tmp_path):
    raw = _copy_raw(tmp_path)
    gz = raw / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:100])
    with pytest.raises(LitGansError, match="train-labels-idx1-ubyte.gz is corrupt"):
        MNISTDataModule(data_dir=str(tmp_path), download=False).prepare_data()


@pytest.mark.parametrize("name", ["batch_size", "val_batch_size"])
def test_non_positive_batch_size(name):
    with pytest.raises(LitGansError, match=f"data.{name} must be a positive integer"):
        MNISTDataModule(**{name: 0})


def test_device_resident_batches_shard_like_distributed_sampler():
    images, labels = load_split("data", train=False)
    shards = [DeviceBatches(images, labels, 100, seed=0, epoch=lambda: 0, rank=r, world=2) for r in range(2)]
    seen = []
    for shard in shards:
        assert len(shard) == 50  # 10,000 images / 2 ranks / 100 per batch
        for x, y in shard:
            assert x.shape == (100, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
            seen.append(y)
    assert len(torch.cat(seen)) == 10000
    epoch = [0]
    shard = DeviceBatches(images, labels, 100, seed=0, epoch=lambda: epoch[0])
    first = next(iter(shard))[1]
    epoch[0] = 1
    assert not torch.equal(first, next(iter(shard))[1])  # a new order every epoch

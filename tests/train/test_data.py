import gzip

import numpy as np
import pytest
from PIL import Image

from sqz.errors import DatasetError
from sqz.train import data


def test_fashion_mnist_is_the_official_split(fmnist):
    assert fmnist.train.x.shape == (60000, 28, 28, 1) and fmnist.test.x.shape == (10000, 28, 28, 1)
    assert np.bincount(fmnist.test.y).tolist() == [1000] * 10
    assert fmnist.classes[0] == "T-shirt/top" and fmnist.preprocess.size == 32


def test_validation_split_is_disjoint_and_reproducible(fmnist):
    a, b = data.validation_split(fmnist.train, 0.1, seed=3)
    a2, _ = data.validation_split(fmnist.train, 0.1, seed=3)
    assert len(a) + len(b) == 60000 and len(b) == 6000
    assert np.array_equal(a.y, a2.y)


def _write_idx(path, arr, magic=0x08):
    header = bytes([0, 0, magic, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_idx_errors_are_clear(tmp_path):
    _write_idx(tmp_path / "bad-magic.gz", np.zeros((2, 2)), magic=0x0D)
    with pytest.raises(DatasetError, match="bad magic"):
        data.read_idx(tmp_path / "bad-magic.gz")
    good = tmp_path / "x-images-idx3-ubyte.gz"
    _write_idx(good, np.zeros((3, 4, 4)))
    raw = gzip.open(good).read()
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(raw[:-5])
    with pytest.raises(DatasetError, match="file has"):
        data.read_idx(tmp_path / "short.gz")


def test_idx_pair_loads_and_checks_labels(tmp_path, fmnist):
    x, y = fmnist.test.x[:200, :, :, 0], fmnist.test.y[:200]
    _write_idx(tmp_path / "mine-images-idx3-ubyte.gz", x)
    _write_idx(tmp_path / "mine-labels-idx1-ubyte.gz", y)
    ds = data.load(str(tmp_path / "mine-images-idx3-ubyte.gz"))
    assert len(ds.train) + len(ds.test) == 200
    _write_idx(tmp_path / "mine-labels-idx1-ubyte.gz", y[:150])
    with pytest.raises(DatasetError, match="200 images but 150 labels"):
        data.load(str(tmp_path / "mine-images-idx3-ubyte.gz"))


def test_npz_loading_and_bad_labels(tmp_path, fmnist):
    x, y = fmnist.test.x[:100], fmnist.test.y[:100]
    np.savez(tmp_path / "ok.npz", x=x[..., 0], y=y)
    ds = data.load(str(tmp_path / "ok.npz"))
    assert ds.train.x.shape[1:] == (28, 28, 1) and len(ds.classes) == 10
    np.savez(tmp_path / "neg.npz", x=x, y=np.where(y == 0, -1, y))
    with pytest.raises(DatasetError, match="labels must lie"):
        data.load(str(tmp_path / "neg.npz"))
    np.savez(tmp_path / "short.npz", x=x, y=y[:10])
    with pytest.raises(DatasetError, match="100 images but 10 labels"):
        data.load(str(tmp_path / "short.npz"))
    np.savez(tmp_path / "nokeys.npz", a=x)
    with pytest.raises(DatasetError, match="needs arrays"):
        data.load(str(tmp_path / "nokeys.npz"))
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 28, 28), np.uint8), y=np.zeros(0, np.int64))
    with pytest.raises(DatasetError):
        data.load(str(tmp_path / "empty.npz"))


def _folder(tmp_path, fmnist, per_class=6):
    """Real Fashion-MNIST images written in several modes and formats."""
    root = tmp_path / "folder"
    modes = ["L", "RGB", "RGBA", "P", "I;16"]
    for label in (0, 1, 7):
        d = root / data.FASHION_MNIST_CLASSES[label].replace("/", "-")
        d.mkdir(parents=True)
        idx = np.flatnonzero(fmnist.test.y == label)[:per_class]
        for j, i in enumerate(idx):
            img = Image.fromarray(fmnist.test.x[i, :, :, 0])
            mode = modes[j % len(modes)]
            if mode == "I;16":
                img = Image.fromarray((fmnist.test.x[i, :, :, 0].astype(np.uint16) * 257))
            else:
                img = img.convert(mode)
            size = 28 if j % 2 else 40
            img.resize((size, size)).save(d / f"{j}.png")
    return root


def test_image_folder_mixed_modes_and_unreadable_files(tmp_path, fmnist):
    root = _folder(tmp_path, fmnist)
    (root / "Bag").mkdir()
    (root / "Bag" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetError, match="no readable images: Bag"):
        data.load(str(root))
    Image.fromarray(fmnist.test.x[0, :, :, 0]).save(root / "Bag" / "ok.png")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        ds = data.load(str(root))
    assert ds.skipped == 1
    assert len(ds.train) + len(ds.test) == 3 * 6 + 1
    assert ds.classes == ("Bag", "Sneaker", "T-shirt-top", "Trouser")


def test_image_folder_needs_two_classes(tmp_path):
    (tmp_path / "only").mkdir()
    with pytest.raises(DatasetError, match="at least two"):
        data.load(str(tmp_path))
    with pytest.raises(DatasetError, match="no such dataset"):
        data.load(str(tmp_path / "missing"))

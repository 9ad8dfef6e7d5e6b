"""Hostile datasets: a clear DatasetError or a counted skip, never a silently wrong dataset."""

import gzip

import numpy as np
import pytest
from PIL import Image

from sqz.errors import DatasetError
from sqz.runtime.preprocess import Preprocess, decode
from sqz.train import data


def _save(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def test_empty_and_one_class_folders(tmp_path):
    with pytest.raises(DatasetError, match="at least two; found 0"):
        data.load(str(tmp_path))
    _save(tmp_path / "cat" / "a.png", Image.new("L", (8, 8), 100))
    with pytest.raises(DatasetError, match="at least two; found 1"):
        data.load(str(tmp_path))


def test_a_class_without_images_is_named(tmp_path, fmnist):
    for i in range(4):
        _save(tmp_path / "shirt" / f"{i}.png", Image.fromarray(fmnist.test.x[i, :, :, 0]))
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetError, match=r"class folder\(s\) with no training images: boot"):
        data.load(str(tmp_path))


def test_only_unreadable_images(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        (tmp_path / cls / "y.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match="no readable images"):
        data.load(str(tmp_path))


def test_every_mode_decodes_to_the_same_pixels(fmnist):
    """L, RGB, opaque RGBA, P, 16-bit and 32-bit versions of one real image give the same 8-bit pixels."""
    grey = fmnist.test.x[0, :, :, 0]
    pre = Preprocess(size=32, content=28, channels=1)
    want = decode(Image.fromarray(grey), pre)[:, :, 0].astype(int)
    versions = {
        "RGB": Image.fromarray(grey).convert("RGB"),
        "RGBA": Image.fromarray(grey).convert("RGBA"),
        "P": Image.fromarray(grey).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=256),
        "I;16": Image.fromarray(grey.astype(np.uint16) * 257),
        "I": Image.fromarray(grey.astype(np.int32) * 257).convert("I"),
    }
    for mode, img in versions.items():
        got = decode(img, pre)[:, :, 0].astype(int)
        tolerance = 12 if mode == "P" else 1
        assert np.abs(got - want).max() <= tolerance, mode
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:, :14, 3] = 255
    flat = decode(Image.fromarray(rgba, "RGBA"), pre)[:, :, 0]
    assert flat[:, :14].min() == 255 and flat[:, 14:].max() == 0  # transparent → black, not white


def test_mixed_sizes_and_modes_in_one_folder(tmp_path, fmnist):
    modes = ["L", "RGB", "RGBA", "P", "I;16", "LA", "1"]
    for label in (0, 1):
        idx = np.flatnonzero(fmnist.test.y == label)[: len(modes)]
        for j, (i, mode) in enumerate(zip(idx, modes)):
            img = Image.fromarray(fmnist.test.x[i, :, :, 0])
            img = (
                Image.fromarray(fmnist.test.x[i, :, :, 0].astype(np.uint16) * 257)
                if mode == "I;16"
                else img.convert(mode)
            )
            _save(tmp_path / f"c{label}" / f"{j}.png", img.resize((20 + 7 * j,) * 2))
    ds = data.load(str(tmp_path))
    assert ds.skipped == 0 and len(ds.train) + len(ds.test) == 2 * len(modes)
    assert ds.train.x.dtype == np.uint8 and ds.train.x.shape[1:] == ds.test.x.shape[1:]
    assert ds.train.x.shape[-1] == ds.preprocess.channels == 1


def _write_idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_idx_labels_out_of_range_or_mismatched(tmp_path, fmnist):
    x, y = fmnist.test.x[:60, :, :, 0], fmnist.test.y[:60] % 3
    images = tmp_path / "d-images-idx3-ubyte.gz"
    _write_idx(images, x)
    _write_idx(tmp_path / "d-labels-idx1-ubyte.gz", np.where(np.arange(60) == 5, 200, y))
    with pytest.raises(DatasetError, match="labels run to 200 but 197 class id"):
        data.load(str(images))
    _write_idx(tmp_path / "d-labels-idx1-ubyte.gz", y[:59])
    with pytest.raises(DatasetError, match="60 images but 59 labels"):
        data.load(str(images))
    _write_idx(tmp_path / "d-labels-idx1-ubyte.gz", y)
    ds = data.load(str(images))
    assert len(ds.classes) == 3 and len(ds.train) + len(ds.test) == 60


def test_npz_hostile_arrays(tmp_path, fmnist):
    x, y = fmnist.test.x[:50, :, :, 0], fmnist.test.y[:50]
    cases = {
        "labels must lie in 0..2": dict(x=x, y=y, classes=np.array(["a", "b", "c"])),
        "NaN or infinite": dict(x=np.where(x > 200, np.nan, x / 255.0).astype(np.float32), y=y),
        "pixel values span -1.0": dict(x=(x / 127.5 - 1.0).astype(np.float32), y=y),
        "pixel values span 0..65": dict(x=x.astype(np.uint16) * 257, y=y),
        "50 images but 49 labels": dict(x=x, y=y[:49]),
        "x_train images are": dict(x_train=x, y_train=y, x_test=np.zeros((5, 32, 32), np.uint8), y_test=y[:5]),
        "not pixels": dict(x=x.astype(np.complex64), y=y),
    }
    for needle, arrays in cases.items():
        np.savez(tmp_path / "bad.npz", **arrays)
        with pytest.raises(DatasetError, match=needle):
            data.load(str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "ok.npz", x=(x / 255.0).astype(np.float32), y=y)
    ds = data.load(str(tmp_path / "ok.npz"))
    pool = np.concatenate([ds.train.x, ds.test.x])
    assert sorted(pool.reshape(len(pool), -1).sum(1).tolist()) == sorted(x.reshape(50, -1).astype(int).sum(1).tolist())

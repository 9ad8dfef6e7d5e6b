"""Datasets as uint8 arrays: Fashion-MNIST (Debian's IDX files), IDX, .npz and image folders."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sqz.errors import DatasetError
from sqz.runtime.preprocess import Preprocess
from sqz.train import folder
from sqz.train.idx import FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, read_idx
from sqz.train.stats import channel_stats


@dataclass
class Split:
    """Images as uint8 (N, content, content, C) with int64 labels."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> "Split":
        return Split(self.x[idx], self.y[idx])


@dataclass
class Dataset:
    """Train and test splits, class names and the preprocessing the model will record."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    preprocess: Preprocess
    skipped: int = 0


def check_labels(x: np.ndarray, y: np.ndarray, num_classes: int, where: str) -> None:
    """Refuse mismatched lengths, empty sets and labels outside 0..num_classes-1."""
    if len(x) != len(y):
        raise DatasetError(f"{where}: {len(x)} images but {len(y)} labels")
    if len(y) == 0:
        raise DatasetError(f"{where}: no images")
    if y.min() < 0 or y.max() >= num_classes:
        raise DatasetError(f"{where}: labels must lie in 0..{num_classes - 1}, found {y.min()}..{y.max()}")


def fashion_mnist(root: Path = FASHION_MNIST_DIR) -> Dataset:
    """The 70,000 Fashion-MNIST images, official 60,000 / 10,000 split."""
    if not root.is_dir():
        raise DatasetError(
            f"Fashion-MNIST not found at {root}; run `make setup` "
            "(apt-get install dataset-fashion-mnist) or set SQZ_FASHION_MNIST"
        )
    splits = {}
    for name, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(root / f"{prefix}-images-idx3-ubyte.gz")
        y = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        check_labels(x, y, 10, str(root / prefix))
        splits[name] = Split(x[..., None], y)
    return Dataset(
        "fashion-mnist",
        splits["train"],
        splits["test"],
        FASHION_MNIST_CLASSES,
        Preprocess(size=32, content=28, channels=1),
    )


def _as_nhwc(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DatasetError(f"{where}: images must be (N, H, W) or (N, H, W, C), got shape {x.shape}")
    if x.shape[-1] not in (1, 3) and x.shape[1] in (1, 3):
        x = x.transpose(0, 2, 3, 1)
    if x.shape[1] != x.shape[2] or x.shape[-1] not in (1, 3):
        raise DatasetError(f"{where}: expected square 1- or 3-channel images, got shape {x.shape}")
    if x.dtype != np.uint8:
        if x.dtype.kind not in "fiu":
            raise DatasetError(f"{where}: images of dtype {x.dtype} are not pixels; give uint8 (or 0..1 floats)")
        if x.dtype.kind == "f" and x.size and not np.isfinite(x).all():
            raise DatasetError(f"{where}: images hold NaN or infinite values")
        lo, hi = (x.min(), x.max()) if x.size else (0, 0)
        if x.dtype.kind == "f" and hi <= 1.0:
            x = x * 255.0
        if lo < 0 or x.max(initial=0) > 255:
            raise DatasetError(
                f"{where}: pixel values span {lo}..{hi}; give 0..255 (or 0..1 floats), not normalised or 16-bit values"
            )
        x = np.rint(x).astype(np.uint8)
    return x


def from_arrays(
    name: str, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...] | None, test_fraction: float, seed: int
) -> Dataset:
    """A dataset from one pool of arrays, split reproducibly into train and test."""
    x = _as_nhwc(np.asarray(x), name)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    n_classes = len(classes) if classes else int(y.max()) + 1 if len(y) else 0
    check_labels(x, y, n_classes, name)
    if not classes and len(y) and len(np.unique(y)) < n_classes:
        absent = sorted(set(range(n_classes)) - set(np.unique(y).tolist()))
        raise DatasetError(
            f"{name}: labels run to {n_classes - 1} but {len(absent)} class id(s) have no images "
            f"(e.g. {absent[:5]}); number the classes 0..K-1 or give class names"
        )
    if n_classes < 2:
        raise DatasetError(f"{name}: needs at least two classes, found {n_classes}")
    classes = classes or tuple(str(i) for i in range(n_classes))
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, int(round(len(y) * test_fraction)))
    if len(y) - n_test < 1:
        raise DatasetError(f"{name}: too few images ({len(y)}) to hold out a test set")
    pool = Split(x, y)
    side = x.shape[1]
    pre = _default_preprocess(x)
    return Dataset(
        name,
        pool.take(order[n_test:]),
        pool.take(order[:n_test]),
        classes,
        Preprocess(size=pre.size, content=side, channels=x.shape[-1], mean=pre.mean, std=pre.std),
    )


def _default_preprocess(x: np.ndarray) -> Preprocess:
    side, c = x.shape[1], x.shape[-1]
    mean, std = channel_stats([x[: min(len(x), 5000)]])
    size = side + 4 if side <= 28 else side
    return Preprocess(size=size, content=side, channels=c, mean=mean, std=std)


def load_npz(path: Path, test_fraction: float = 0.15, seed: int = 0) -> Dataset:
    """`.npz` with `x` and `y` (optional `classes`; or `x_train`/`y_train`/`x_test`/`y_test`)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npz ({exc})") from None
    classes = tuple(str(c) for c in arrays["classes"]) if "classes" in arrays else None
    if {"x_train", "y_train", "x_test", "y_test"} <= arrays.keys():
        x_tr, x_te = (_as_nhwc(arrays[k], str(path)) for k in ("x_train", "x_test"))
        if x_tr.shape[1:] != x_te.shape[1:]:
            raise DatasetError(f"{path}: x_train images are {x_tr.shape[1:]} but x_test images {x_te.shape[1:]}")
        y_tr, y_te = (arrays[k].astype(np.int64).reshape(-1) for k in ("y_train", "y_test"))
        n = len(classes) if classes else int(max(y_tr.max(initial=0), y_te.max(initial=0))) + 1
        check_labels(x_tr, y_tr, n, f"{path} (train)")
        check_labels(x_te, y_te, n, f"{path} (test)")
        ds = from_arrays(path.name, x_tr, y_tr, classes or tuple(map(str, range(n))), 0.0001, seed)
        ds.train, ds.test = Split(x_tr, y_tr), Split(x_te, y_te)
        return ds
    if "x" not in arrays or "y" not in arrays:
        raise DatasetError(
            f"{path}: needs arrays 'x' and 'y' (or x_train/y_train/x_test/y_test), found {sorted(arrays)}"
        )
    return from_arrays(path.name, arrays["x"], arrays["y"], classes, test_fraction, seed)


def load_image_folder(
    root: Path,
    size: int | None = None,
    channels: int | None = None,
    test_fraction: float = 0.15,
    seed: int = 0,
    resize: str = "crop",
) -> Dataset:
    """One sub-folder per class (or train/ and test/ with those inside), decoded into memory; the split and
    statistics are `folder.index`'s, and unreadable images are skipped."""
    listed = folder.index(root, seed, test_fraction, size, channels, resize)
    pre, skipped, splits = listed.preprocess, 0, []
    for items in (listed.train, listed.test):
        xs, ys = [], []
        for path, label in items:
            x = folder.try_decode(path, pre)
            if x is None:
                skipped += 1
            else:
                xs.append(x)
                ys.append(label)
        if not xs:
            raise DatasetError(f"{root}: no readable images in the training or the test part")
        splits.append(Split(np.stack(xs), np.asarray(ys, np.int64)))
    empty = [c for i, c in enumerate(listed.classes) if i not in set(splits[0].y.tolist()) | set(splits[1].y.tolist())]
    if empty:
        raise DatasetError(f"{root}: class folder(s) with no readable images: {', '.join(empty)}")
    if skipped:
        warnings.warn(f"{root}: skipped {skipped} unreadable image(s)", stacklevel=2)
    return Dataset(listed.name, splits[0], splits[1], listed.classes, pre, skipped)


def load(spec: str, seed: int = 0, preprocess: Preprocess | None = None) -> Dataset:
    """`fashion-mnist`, a `.npz`, an IDX images file (labels beside it), or an image folder (decoded at
    `preprocess`'s size, channels and resize mode when given, as a checkpoint records them)."""
    path = Path(spec)
    if spec != "fashion-mnist" and not path.exists():
        raise DatasetError(f"{spec}: no such dataset; use fashion-mnist, a .npz, IDX files or an image folder")
    if spec != "fashion-mnist" and path.is_dir():
        if preprocess is None:
            return load_image_folder(path, seed=seed)
        return load_image_folder(path, preprocess.content, preprocess.channels, seed=seed, resize=preprocess.resize)
    ds = fashion_mnist() if spec == "fashion-mnist" else _load_arrays(path, spec, seed)
    return ds if preprocess is None else with_channels(ds, preprocess.channels)


def with_channels(ds: Dataset, channels: int) -> Dataset:
    """`ds` with its pixels as `channels`: grey repeated to RGB, RGB to grey by PIL's weights."""
    if ds.preprocess.channels == channels:
        return ds
    luma = np.asarray([0.299, 0.587, 0.114], np.float32)
    convert = (
        (lambda x: np.repeat(x, 3, axis=-1))
        if channels == 3
        else (lambda x: np.clip(np.rint(x.astype(np.float32) @ luma), 0, 255).astype(np.uint8)[..., None])
    )
    return dataclasses.replace(
        ds,
        train=Split(convert(ds.train.x), ds.train.y),
        test=Split(convert(ds.test.x), ds.test.y),
        preprocess=dataclasses.replace(ds.preprocess, channels=channels),
    )


def array_file(path: Path | str) -> bool:
    """Whether `path` names a .npz or an IDX images file (by its name alone: it need not exist)."""
    path = Path(path)
    return path.suffix == ".npz" or "idx3" in path.name


def _load_arrays(path: Path, spec: str, seed: int) -> Dataset:
    if path.suffix == ".npz":
        return load_npz(path, seed=seed)
    if "idx3" in path.name:
        labels = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
        if not labels.exists():
            raise DatasetError(f"{path}: IDX labels file {labels.name} not found beside it")
        x, y = read_idx(path), read_idx(labels)
        return from_arrays(path.name, x, y, None, 0.15, seed)
    raise DatasetError(f"{spec}: unknown dataset format; use fashion-mnist, a .npz, IDX files or an image folder")


def validation_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out a reproducible `fraction` of `split` for validation."""
    order = np.random.default_rng(seed).permutation(len(split))
    n_val = int(round(len(split) * fraction))
    return split.take(order[n_val:]), split.take(order[:n_val])

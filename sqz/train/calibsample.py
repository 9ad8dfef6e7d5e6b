"""The calibration sample a run stores beside its checkpoint (`calibration.npz`): a few hundred training
images, stratified by class, as uint8 pixels at the model's size, so export needs no training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqz.errors import DatasetError
from sqz.files import atomic_write
from sqz.runtime.preprocess import Preprocess
from sqz.train.folder import Items, try_decode

SAMPLE_FILE = "calibration.npz"
SAMPLE_SIZE = 500


def stratified(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of up to `n` items, taken round-robin over the classes in a seeded order each."""
    rng = np.random.default_rng(seed)
    per = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked: list[int] = []
    for depth in range(max((len(p) for p in per), default=0)):
        picked += [int(p[depth]) for p in per if depth < len(p)]
        if len(picked) >= n:
            break
    return np.sort(np.asarray(picked[:n], np.int64))


def from_items(items: Items, pre: Preprocess, n: int = SAMPLE_SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Decode a stratified `n` of image-folder `items` (unreadable ones are replaced by the next in line)."""
    labels = np.asarray([y for _, y in items], np.int64)
    xs, ys = [], []
    for i in stratified(labels, len(items), seed):
        x = try_decode(items[i][0], pre)
        if x is not None:
            xs.append(x)
            ys.append(labels[i])
        if len(xs) == n:
            break
    if not xs:
        raise DatasetError("no readable training image for the calibration sample")
    return np.stack(xs), np.asarray(ys, np.int64)


def from_arrays(x: np.ndarray, y: np.ndarray, n: int = SAMPLE_SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stratified `n` of in-memory uint8 images and their labels."""
    idx = stratified(np.asarray(y), n, seed)
    return np.ascontiguousarray(x[idx]), np.asarray(y)[idx].astype(np.int64)


def write(run_dir: Path, x: np.ndarray, y: np.ndarray, pre: Preprocess) -> Path:
    """Store the sample (uint8 NHWC, labels, the Preprocess it was decoded with) atomically in `run_dir`."""
    path = Path(run_dir) / SAMPLE_FILE
    shape = np.asarray([pre.content, pre.content, pre.channels], np.int64)

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, x=x.astype(np.uint8), y=y.astype(np.int64), shape=shape)

    atomic_write(path, save)
    return path


def read(run_dir: Path, pre: Preprocess) -> tuple[np.ndarray, np.ndarray] | None:
    """The stored sample as (uint8 images, labels), or None when there is none or it does not fit `pre`."""
    path = Path(run_dir) / SAMPLE_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y = z["x"], z["y"]
    except (OSError, ValueError, KeyError):
        return None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (pre.content, pre.content, pre.channels) or not len(x):
        return None
    return x, y

"""The one image-folder indexer: the layout, which files are train and test, the input size and the
normalisation statistics, for the in-memory reader and the streamed one alike; the split a run used is
recorded in its directory (`split.json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sqz.errors import DatasetError
from sqz.files import write_text
from sqz.runtime.preprocess import Preprocess, decode
from sqz.train.stats import channel_stats

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
STATS_SAMPLE = 1000
SPLIT_FILE = "split.json"

Items = list[tuple[str, int]]


@dataclass
class Folder:
    """An image folder listed, not decoded: (path, label) items per split, classes, preprocessing."""

    name: str
    classes: tuple[str, ...]
    preprocess: Preprocess
    train: Items
    test: Items
    root: Path | None = None


def layout(root: Path) -> tuple[tuple[str, ...], list[Path]]:
    """(class names, [train/, test/] or [] for one pool) of a class-per-sub-folder image dataset."""
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    parts = {p.name: p for p in root.iterdir() if p.is_dir()}
    split_dirs = [parts[k] for k in ("train", "test") if k in parts]
    class_root = split_dirs[0] if len(split_dirs) == 2 else root
    classes = tuple(sorted(p.name for p in class_root.iterdir() if p.is_dir()))
    if len(classes) < 2:
        raise DatasetError(f"{class_root}: needs one sub-folder per class, at least two; found {len(classes)}")
    return classes, split_dirs if len(split_dirs) == 2 else []


def _list_images(root: Path, classes: tuple[str, ...]) -> Items:
    out = []
    for label, name in enumerate(classes):
        d = root / name
        if d.is_dir():
            out += [(str(p), label) for p in sorted(d.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    return out


def _probe(items: Items) -> tuple[int, int]:
    """(longest side, channels) of the first readable image."""
    from PIL import Image

    for path, _ in items:
        try:
            with Image.open(path) as im:
                return max(im.size), 3 if im.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr") else 1
        except Exception:
            continue
    raise DatasetError("no readable images found")


def try_decode(path: str, pre: Preprocess) -> np.ndarray | None:
    """The decoded image, or None when it is unreadable."""
    try:
        return decode(path, pre)
    except Exception:
        return None


def index(root: Path, seed: int = 0, test_fraction: float = 0.15, size: int | None = None,
          channels: int | None = None) -> Folder:
    """List a class-per-sub-folder tree (or train/ and test/ holding such trees) and fix its preprocessing.

    One pool is split by file, before anything is decoded, so an unreadable file never moves another
    into or out of the test split. The side is min(224, the first image's longest side) unless given;
    mean/std come from up to 1,000 decoded training images.
    """
    root = Path(root)
    classes, split_dirs = layout(root)
    if split_dirs:
        train, test = (_list_images(d, classes) for d in split_dirs)
    else:
        every = _list_images(root, classes)
        order = np.random.default_rng(seed).permutation(len(every))
        n_test = max(1, int(round(len(every) * test_fraction)))
        train, test = [every[i] for i in order[n_test:]], [every[i] for i in order[:n_test]]
    if not train or not test:
        raise DatasetError(f"{root}: no images in the training or the test part "
                           f"(suffixes {', '.join(sorted({'.png', '.jpg', '.jpeg'}))} and others)")
    empty = sorted(set(classes) - {classes[lbl] for _, lbl in train})
    if empty:
        raise DatasetError(f"{root}: class folder(s) with no training images: {', '.join(empty)}")
    side, probe_c = _probe(train + test)
    side, channels = size or min(side, 224), channels or probe_c
    pre = Preprocess(size=side, content=side, channels=channels)
    sample = [train[i] for i in np.random.default_rng(seed).permutation(len(train))[:STATS_SAMPLE]]
    try:
        mean, std = channel_stats(x for x in (try_decode(p, pre) for p, _ in sample) if x is not None)
    except ValueError:
        raise DatasetError(f"{root}: none of {len(sample)} sampled training images is readable") from None
    pre = Preprocess(size=side, content=side, channels=channels, mean=mean, std=std)
    return Folder(root.name, classes, pre, train, test, root)


def _entry(root: Path, path: str, label: int) -> dict:
    st = Path(path).stat()
    return {"path": Path(path).relative_to(root).as_posix(), "label": label, "size": st.st_size,
            "mtime": st.st_mtime}


def write_split(out: Path, folder: Folder, splits: dict[str, Items]) -> Path:
    """Record the exact files of each split (path relative to the folder, label, size, mtime) in `out`."""
    root = Path(folder.root).resolve()
    record = {"root": str(root), "classes": list(folder.classes),
              **{name: [_entry(root, str(Path(p).resolve()), lbl) for p, lbl in items]
                 for name, items in splits.items()}}
    path = Path(out) / SPLIT_FILE
    write_text(path, json.dumps(record, indent=1) + "\n")
    return path


def read_split(run_dir: Path) -> dict:
    """The split a run recorded: {'root', 'classes', 'train', 'val', 'test'}, each split a list of entries."""
    path = Path(run_dir) / SPLIT_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: no readable split record ({exc.__class__.__name__})") from None

"""The one image-folder indexer: the layout, which files are train and test, the input size and the
normalisation statistics, for the in-memory reader and the streamed one alike; the split a run used is
recorded in its directory (`split.json`)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sqz.errors import DatasetError
from sqz.files import write_text
from sqz.runtime.preprocess import Preprocess, decode, open_image
from sqz.train.stats import channel_stats

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
STATS_SAMPLE = 1000
SPLIT_FILE = "split.json"
SPLITS = ("train", "val", "test")

Items = list[tuple[str, int]]


@dataclass
class Folder:
    """An image folder listed, not decoded: (path, label) items per split, classes, preprocessing.

    `test` holds the final figure's images: test/, or val/ when the layout has no test/ (then `final` is
    "val"); `val` is val/ when test/ is there too, else None: a share of train is held out to pick the kept
    epoch, so the final figure is never measured on the images that chose it."""

    name: str
    classes: tuple[str, ...]
    preprocess: Preprocess
    train: Items
    test: Items
    root: Path | None = None
    val: Items | None = None
    layout: str = "classes"
    final: str = "test"


@dataclass
class Layout:
    """How a folder is laid out: `kind` ("classes", "train/test", "train/val" or "train/val/test"), the
    class names, each split's folder ({} for one pool of class folders) and the folders ignored."""

    kind: str
    classes: tuple[str, ...]
    dirs: dict[str, Path]
    notes: list[str]


def _subdirs(d: Path, notes: list[str]) -> list[Path]:
    """The visible, non-empty sub-folders of `d`; hidden and empty ones are named in `notes`."""
    out = []
    for p in sorted(d.iterdir()):
        if not p.is_dir():
            continue
        if p.name.startswith("."):
            notes.append(f"hidden folder {p.name}/ in {d}")
        elif not any(q.is_file() for q in p.rglob("*")):
            notes.append(f"empty folder {p.name}/ in {d}")
        else:
            out.append(p)
    return out


def layout(root: Path) -> Layout:
    """Recognise `root`: class folders, or train/ with val/ and/or test/ each holding the same class folders."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    notes: list[str] = []
    top = _subdirs(root, notes)
    names = {p.name for p in top}
    splits = [k for k in SPLITS if k in names]
    if not splits:
        classes, dirs, kind = tuple(p.name for p in top), {}, "classes"
        where = root
    else:
        if "train" not in splits or len(splits) < 2 or names - set(splits):
            raise DatasetError(
                f"{root}: holds {', '.join(sorted(names))}/, which matches no layout; give one "
                "sub-folder per class, or train/ with val/ and/or test/ holding those"
            )
        dirs = {k: root / k for k in splits}
        per = {k: tuple(p.name for p in _subdirs(d, notes)) for k, d in dirs.items()}
        classes, kind, where = per["train"], "/".join(splits), dirs["train"]
        for k, other in per.items():
            if other != classes:
                missing, extra = sorted(set(classes) - set(other)), sorted(set(other) - set(classes))
                raise DatasetError(
                    f"{root}: {k}/ and train/ disagree on the classes (in train/ only: "
                    f"{', '.join(missing[:5]) or 'none'}; in {k}/ only: {', '.join(extra[:5]) or 'none'}"
                    "); give every split the same class folders"
                )
    if len(classes) < 2:
        raise DatasetError(f"{where}: needs one sub-folder per class, at least two; found {len(classes)}")
    return Layout(kind, classes, dirs, notes)


def describe(f: "Folder") -> str:
    """One line naming the layout found, for the start of training."""
    sizes = ", ".join(
        f"{k} {len(v):,}"
        for k, v in (("train", f.train), ("val", f.test if f.final == "val" else f.val), ("test", f.test))
        if v is not None and not (k == "test" and f.final == "val")
    )
    final = "; no test/: the final figure is on val/, a share of train/ picks the epoch" if f.final == "val" else ""
    return f"{f.root}: layout {f.layout} ({len(f.classes)} classes; {sizes} images{final})"


def _list_images(root: Path, classes: tuple[str, ...]) -> Items:
    out = []
    for label, name in enumerate(classes):
        d = root / name
        if d.is_dir():
            out += [(str(p), label) for p in sorted(d.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    return out


def _probe(items: Items) -> tuple[int, int]:
    """(longest side, channels) of the first readable image."""
    for path, _ in items:
        try:
            with open_image(path) as im:
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


def index(
    root: Path,
    seed: int = 0,
    test_fraction: float = 0.15,
    size: int | None = None,
    channels: int | None = None,
    resize: str = "crop",
) -> Folder:
    """List a class-per-sub-folder tree (or train/ and test/ holding such trees) and fix its preprocessing.

    One pool is split by file, before anything is decoded, so an unreadable file never moves another
    into or out of the test split. The side is min(224, the first image's longest side) unless given,
    `resize` how each image is fitted to it (crop, squash, pad);
    mean/std come from up to 1,000 decoded training images.
    """
    root = Path(root)
    lay = layout(root)
    classes, val, final = lay.classes, None, "test"
    if lay.notes:
        warnings.warn(f"{root}: ignored " + "; ".join(lay.notes), stacklevel=2)
    if lay.dirs:
        listed = {k: _list_images(d, classes) for k, d in lay.dirs.items()}
        train, final = listed["train"], "test" if "test" in listed else "val"
        test, val = listed[final], listed.get("val") if final == "test" else None
    else:
        every = _list_images(root, classes)
        order = np.random.default_rng(seed).permutation(len(every))
        n_test = max(1, int(round(len(every) * test_fraction)))
        train, test = [every[i] for i in order[n_test:]], [every[i] for i in order[:n_test]]
    if not train or not test:
        raise DatasetError(
            f"{root}: no images in the training or the test part "
            f"(suffixes {', '.join(sorted({'.png', '.jpg', '.jpeg'}))} and others)"
        )
    empty = sorted(set(classes) - {classes[lbl] for _, lbl in train})
    if empty:
        raise DatasetError(f"{root}: class folder(s) with no training images: {', '.join(empty)}")
    side, probe_c = _probe(train + test)
    side, channels = size or min(side, 224), channels or probe_c
    pre = Preprocess(size=side, content=side, channels=channels, resize=resize)
    sample = [train[i] for i in np.random.default_rng(seed).permutation(len(train))[:STATS_SAMPLE]]
    try:
        mean, std = channel_stats(x for x in (try_decode(p, pre) for p, _ in sample) if x is not None)
    except ValueError:
        raise DatasetError(f"{root}: none of {len(sample)} sampled training images is readable") from None
    pre = Preprocess(size=side, content=side, channels=channels, mean=mean, std=std, resize=resize)
    return Folder(root.name, classes, pre, train, test, root, val, lay.kind, final)


def _entry(root: Path, path: str, label: int) -> dict:
    st = Path(path).stat()
    return {"path": Path(path).relative_to(root).as_posix(), "label": label, "size": st.st_size, "mtime": st.st_mtime}


def write_split(out: Path, folder: Folder, splits: dict[str, Items]) -> Path:
    """Record the exact files of each split (path relative to the folder, label, size, mtime) in `out`."""
    root = Path(folder.root).resolve()
    record = {
        "root": str(root),
        "classes": list(folder.classes),
        **{name: [_entry(root, str(Path(p).resolve()), lbl) for p, lbl in items] for name, items in splits.items()},
    }
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

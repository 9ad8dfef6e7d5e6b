"""Image folders streamed from disk: decoded in DataLoader workers with the board's own `decode`,
augmented per image, and skipped (and counted) when unreadable."""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader

from sqz.errors import DatasetError
from sqz.runtime.preprocess import Preprocess, decode, normalize
from sqz.train import distributed
from sqz.train.augment import maybe_mirror, random_resized_crop
from sqz.train.data import Split, _list_images, _probe, folder_layout, validation_split
from sqz.train.memory import Batch, subset

STATS_SAMPLE = 1000


@dataclass
class Folder:
    """An image folder listed, not decoded: (path, label) items per split, classes, preprocessing."""

    name: str
    classes: tuple[str, ...]
    preprocess: Preprocess
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]


def index(root: Path, seed: int = 0, test_fraction: float = 0.15, size: int = 0, channels: int = 0,
          resize: str = "crop") -> Folder:
    """List a class-per-sub-folder tree (or train/ and test/ holding such trees) and fix its preprocessing.

    The split matches `data.load_image_folder`; mean/std come from up to 1,000 decoded training images.
    """
    root = Path(root)
    classes, split_dirs = folder_layout(root)
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
    empty = sorted({classes[i] for i in range(len(classes))} - {classes[lbl] for _, lbl in train})
    if empty:
        raise DatasetError(f"{root}: class folder(s) with no training images: {', '.join(empty)}")
    side, probed = _probe(train + test)
    side, channels = size or min(side, 224), channels or probed
    pre = Preprocess(size=side, content=side, channels=channels, resize=resize)
    sample = [train[i] for i in np.random.default_rng(seed).permutation(len(train))[:STATS_SAMPLE]]
    pixels = [x for x in (_try_decode(p, pre) for p, _ in sample) if x is not None]
    if not pixels:
        raise DatasetError(f"{root}: none of {len(sample)} sampled training images is readable")
    scaled = np.stack(pixels).astype(np.float32) / 255.0
    mean = tuple(float(v) for v in scaled.mean(axis=(0, 1, 2)))
    std = tuple(max(1e-3, float(v)) for v in scaled.std(axis=(0, 1, 2)))
    pre = Preprocess(size=side, content=side, channels=channels, mean=mean, std=std, resize=resize)
    return Folder(root.name, classes, pre, [(str(p), y) for p, y in train], [(str(p), y) for p, y in test])


def _try_decode(path, pre: Preprocess) -> np.ndarray | None:
    try:
        return decode(path, pre)
    except Exception:
        return None


class FolderImages(torch.utils.data.Dataset):
    """Map-style dataset keyed by (epoch, index): the augmentation of an image depends on the seed, the epoch
    and the image only, so it is the same for any number of workers or ranks, and a resumed run repeats it."""

    def __init__(self, items: list[tuple[str, int]], pre: Preprocess, resized_crop: bool, flip: bool, seed: int):
        self.items, self.pre, self.resized_crop, self.flip, self.seed = items, pre, resized_crop, flip, seed

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key) -> tuple[np.ndarray | None, int, str]:
        epoch, i = key if isinstance(key, tuple) else (-1, key)
        path, label = self.items[i]
        try:
            if self.resized_crop and epoch >= 0:
                from PIL import Image

                rng = np.random.default_rng([self.seed, epoch, i])
                with Image.open(path) as im:
                    im.load()
                    image = random_resized_crop(im.copy(), rng)
                image = maybe_mirror(image, rng) if self.flip else image
                return decode(image, self.pre), label, path
            return decode(path, self.pre), label, path
        except Exception:
            return None, label, path


def collate(batch: list, pre: Preprocess) -> Batch:
    """Normalised NCHW batch of the readable images, their labels, and the paths of the unreadable ones."""
    good = [(x, y) for x, y, _ in batch if x is not None]
    bad = [p for x, _, p in batch if x is None]
    if not good:
        return torch.zeros(0, pre.channels, pre.size, pre.size), torch.zeros(0, dtype=torch.int64), bad
    x = torch.from_numpy(normalize(np.stack([g[0] for g in good]), pre))
    return x, torch.tensor([g[1] for g in good], dtype=torch.int64), bad


def default_workers(world: int) -> int:
    """Decode workers per rank: the cores left over per process, at most 8."""
    return max(0, min(8, (os.cpu_count() or 1) // world - 1))


class FolderSource:
    """An image folder streamed through a DataLoader; shuffling is DistributedSampler's, in one process too."""

    streamed = True

    def __init__(self, folder: Folder, seed: int, val_fraction: float, limit: int, workers: int,
                 flip: bool = True, pin_memory: bool = False):
        self.name, self.classes, self.preprocess = folder.name, folder.classes, folder.preprocess
        self.augment = "resized-crop" if self.preprocess.channels == 3 else "pad-crop"
        self.seed, self.workers, self.flip, self.pin_memory = seed, workers, flip, pin_memory
        pool = Split(np.arange(len(folder.train)), np.array([y for _, y in folder.train], np.int64))
        tr, val = validation_split(pool, val_fraction, seed)
        tr_idx = subset(len(tr), limit, seed)
        val_idx = subset(len(val), limit // 5 if limit else 0, seed)
        te_idx = subset(len(folder.test), limit // 5 if limit else 0, seed)
        self.train = [folder.train[i] for i in (tr.x if tr_idx is None else tr.x[tr_idx])]
        self.val = [folder.train[i] for i in (val.x if val_idx is None else val.x[val_idx])]
        self.test = folder.test if te_idx is None else [folder.test[i] for i in te_idx]
        self.n_train, self.n_val, self.n_test = len(self.train), len(self.val), len(self.test)
        self.skipped = 0

    def _loader(self, items, keys, batch: int, augment: bool) -> DataLoader:
        ds = FolderImages(items, self.preprocess, augment and self.augment == "resized-crop", self.flip, self.seed)
        return DataLoader(ds, batch_size=batch, sampler=keys, num_workers=self.workers,
                          collate_fn=functools.partial(collate, pre=self.preprocess),
                          pin_memory=self.pin_memory)

    def steps(self, ctx: distributed.Context, batch: int) -> int:
        per_rank = -(-self.n_train // ctx.world)
        return -(-per_rank // batch)

    def train_batches(self, epoch: int, ctx: distributed.Context, gen: torch.Generator,
                      batch: int) -> Iterator[Batch]:
        order = distributed.shard(self.n_train, epoch, self.seed, ctx.rank, ctx.world).tolist()
        return iter(self._loader(self.train, [(epoch, i) for i in order], batch, augment=True))

    def eval_batches(self, which: str, ctx: distributed.Context, batch: int = 256) -> Iterator[Batch]:
        items = self.val if which == "val" else self.test
        keys = list(range(ctx.rank, len(items), ctx.world))
        return iter(self._loader(items, keys, batch, augment=False))


def warn_skipped(paths: list[str], where: str) -> None:
    """One warning naming how many images were unreadable and a few of them."""
    if paths:
        shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
        warnings.warn(f"{where}: skipped {len(paths)} unreadable image(s): {shown}", stacklevel=2)

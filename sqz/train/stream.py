"""Image folders streamed from disk: decoded in DataLoader workers with the board's own `decode`,
augmented per image, and skipped (and counted) when unreadable."""

from __future__ import annotations

import functools
import os
import warnings
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader

from sqz.runtime.preprocess import Preprocess, decode, normalize, open_image
from sqz.train import distributed
from sqz.train.augment import crop_scale, maybe_mirror, random_resized_crop
from sqz.train.data import Split, validation_split
from sqz.train.folder import Folder
from sqz.train.memory import Batch, subset


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
                rng = np.random.default_rng([self.seed, epoch, i])
                image = random_resized_crop(open_image(path), rng, crop_scale(self.pre.size))
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


def _take(items: list, n: int, seed: int) -> list:
    idx = subset(len(items), n, seed)
    return items if idx is None else [items[i] for i in idx]


def default_workers(world: int) -> int:
    """Decode workers per rank: the cores left over per process, at most 8."""
    return max(0, min(8, (os.cpu_count() or 1) // world - 1))


class FolderSource:
    """An image folder streamed through a DataLoader; shuffling is DistributedSampler's, in one process too."""

    streamed = True

    def __init__(
        self,
        folder: Folder,
        seed: int,
        val_fraction: float,
        limit: int,
        workers: int,
        flip: bool = False,
        pin_memory: bool = False,
    ):
        self.folder, self.name, self.classes = folder, folder.name, folder.classes
        self.preprocess = folder.preprocess
        self.augment = "resized-crop" if self.preprocess.channels == 3 else "pad-crop"
        self.seed, self.workers, self.flip, self.pin_memory = seed, workers, flip, pin_memory
        self.layout, self.final = folder.layout, folder.final
        pool = Split(np.arange(len(folder.train)), np.array([y for _, y in folder.train], np.int64))
        tr, val = validation_split(pool, 0 if folder.val is not None else val_fraction, seed)
        val_items = folder.val if folder.val is not None else [folder.train[i] for i in val.x]
        self.train = _take([folder.train[i] for i in tr.x], limit, seed)
        self.val = _take(val_items, limit // 5 if limit else 0, seed)
        self.test = _take(folder.test, limit // 5 if limit else 0, seed)
        self.n_train, self.n_val, self.n_test = len(self.train), len(self.val), len(self.test)
        self.skipped = 0

    def _loader(self, items, keys, batch: int, augment: bool) -> DataLoader:
        ds = FolderImages(items, self.preprocess, augment and self.augment == "resized-crop", self.flip, self.seed)
        return DataLoader(
            ds,
            batch_size=batch,
            sampler=keys,
            num_workers=self.workers,
            collate_fn=functools.partial(collate, pre=self.preprocess),
            pin_memory=self.pin_memory,
        )

    def train_batches(self, epoch: int, ctx: distributed.Context, gen: torch.Generator, batch: int) -> Iterator[Batch]:
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

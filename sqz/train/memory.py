"""In-memory training data (Fashion-MNIST, .npz, IDX): normalised once, batched by index; the fast path."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from sqz.runtime.preprocess import normalize
from sqz.train import distributed, schedule
from sqz.train.data import Dataset, Split, validation_split

Batch = tuple[torch.Tensor, torch.Tensor, list[str]]


def to_tensor(split: Split, pre) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised float NCHW images and int64 labels, in chunks to bound memory."""
    chunks = [torch.from_numpy(normalize(split.x[i : i + 4096], pre)) for i in range(0, len(split), 4096)]
    return torch.cat(chunks), torch.from_numpy(split.y)


class Images:
    """A split's uint8 images, normalised as they are read (`x[i:j]`, `x[index_tensor]`): a quarter of the
    memory of the float tensor `to_tensor` makes, which matters at 224² (150 KB an RGB image as uint8)."""

    def __init__(self, x: np.ndarray, pre) -> None:
        self.x, self.pre = x, pre

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, torch.Tensor):
            key = key.numpy()
        if not isinstance(key, (slice, np.ndarray)):
            raise TypeError("index Images with a slice or an index array")
        return torch.from_numpy(normalize(self.x[key], self.pre))


def as_images(split: Split, pre) -> tuple[Images, torch.Tensor]:
    """`to_tensor`'s pair with the images kept as uint8 until they are read."""
    return Images(split.x, pre), torch.from_numpy(split.y)


def subset(n_items: int, n: int, seed: int) -> np.ndarray | None:
    """Indices of a reproducible random `n` of `n_items`, or None to keep them all."""
    if not n or n >= n_items:
        return None
    return np.random.default_rng(seed).permutation(n_items)[:n]


def _take(split: Split, n: int, seed: int) -> Split:
    idx = subset(len(split), n, seed)
    return split if idx is None else split.take(idx)


class MemorySource:
    """Train / validation / test tensors of a loaded Dataset; one process shuffles with the caller's generator."""

    augment = "pad-crop"
    streamed = False

    def __init__(self, ds: Dataset, seed: int, val_fraction: float, limit: int):
        self.name, self.classes, self.preprocess, self.skipped = ds.name, ds.classes, ds.preprocess, ds.skipped
        self.seed = seed
        train_split, val_split = validation_split(ds.train, val_fraction, seed)
        train_split = _take(train_split, limit, seed)
        val_split = _take(val_split, limit // 5 if limit else 0, seed)
        self._test = _take(ds.test, limit // 5 if limit else 0, seed)
        self.train_raw = train_split
        self.x_tr, self.y_tr = to_tensor(train_split, self.preprocess)
        self.val = to_tensor(val_split, self.preprocess) if len(val_split) else None
        self.n_train, self.n_val, self.n_test = len(self.y_tr), len(val_split), len(self._test)

    def train_batches(self, epoch: int, ctx: distributed.Context, gen: torch.Generator, batch: int) -> Iterator[Batch]:
        """One epoch of this rank's batches; one process draws the order from `gen` (as sqz always has)."""
        if ctx.world == 1:
            order = torch.randperm(self.n_train, generator=gen)
        else:
            order = distributed.shard(self.n_train, epoch, self.seed, ctx.rank, ctx.world)
        for b in range(schedule.steps_per_epoch(self.n_train, batch, ctx.world)):
            idx = order[b * batch : (b + 1) * batch]
            yield self.x_tr[idx], self.y_tr[idx], []

    def eval_batches(self, which: str, ctx: distributed.Context, batch: int = 512) -> Iterator[Batch]:
        """This rank's share (every world-th image) of the validation or test set."""
        if which == "val":
            x, y = self.val
        else:
            x, y = to_tensor(self._test, self.preprocess)
        x, y = x[ctx.rank :: ctx.world], y[ctx.rank :: ctx.world]
        for i in range(0, len(y), batch):
            yield x[i : i + batch], y[i : i + batch], []

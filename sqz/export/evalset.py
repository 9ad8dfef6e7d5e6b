"""What export evaluates on: the test files the run held out (OUT/split.json), checked against the disk and
streamed in batches, or an in-memory test split (Fashion-MNIST, .npz, IDX); None when the data is gone."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from sqz.errors import DatasetError, InputError
from sqz.runtime.preprocess import Preprocess
from sqz.train import folder, rundata
from sqz.train.data import Split, array_file
from sqz.train.data import load as load_data

BATCH = 64
MEMORY_BATCH = 512


@dataclass
class EvalSet:
    """Test images as (path, label) items streamed from disk, or an in-memory uint8 split."""

    name: str
    items: list[tuple[str, int]] | None = None
    split: Split | None = None
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items) if self.items is not None else len(self.split)

    def batches(self, pre: Preprocess, size: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """uint8 (n, content, content, C) images and labels, `size` at a time (default: 64 decoded from disk,
        512 in memory); unreadable files are skipped and named in `skipped`."""
        size = size or (MEMORY_BATCH if self.split is not None else BATCH)
        if self.split is not None:
            for i in range(0, len(self.split), size):
                yield self.split.x[i : i + size], self.split.y[i : i + size]
            return
        for i in range(0, len(self.items), size):
            xs, ys = [], []
            for path, label in self.items[i : i + size]:
                x = folder.try_decode(path, pre)
                if x is None:
                    self.skipped.append(path)
                else:
                    xs.append(x)
                    ys.append(label)
            if xs:
                yield np.stack(xs), np.asarray(ys, np.int64)


def _root(split: dict | None, found: str | None, data: str | None) -> Path | None:
    """The image folder to read: `--data`, else the absolute root split.json records, else where the training
    data is now (`rundata.training_data`); None when none of them is a folder."""
    if data is not None:
        return Path(data)
    if split and Path(split.get("root", "")).is_dir():
        return Path(split["root"])
    return Path(found) if found is not None and Path(found).is_dir() else None


def recorded_test(split: dict, root: Path, log) -> list[tuple[str, int]]:
    """The recorded test files under `root` that are still as training saw them (same size and mtime);
    one warning line when some are missing or changed, a DatasetError when none remain."""
    entries = split.get("test") or []
    kept = []
    for e in entries:
        p = root / e["path"]
        try:
            st = p.stat()
        except OSError:
            continue
        if st.st_size == e["size"] and abs(st.st_mtime - e["mtime"]) < 1e-3:
            kept.append((str(p), int(e["label"])))
    changed = len(entries) - len(kept)
    if entries and not kept:
        raise DatasetError(
            f"{root}: none of the {len(entries):,} test files the run held out is there unchanged "
            "(missing, or other size/mtime; copy with `cp -p`); give --data DIR where they are, "
            "or --no-eval"
        )
    if changed:
        log(
            f"warning: {changed:,} of the {len(entries):,} test files the run held out are missing or changed "
            f"(size or mtime) under {root}; evaluating on the {len(kept):,} that remain"
        )
    return kept


def open_eval(ckpt: Path, payload: dict, pre: Preprocess, data: str | None, limit: int, log) -> EvalSet | None:
    """The evaluation set for a checkpoint (the first `limit` images when `limit`), or None, with a line
    saying why, when the data it was trained on is gone and no `--data` was given."""
    cfg, run_dir = rundata.config(payload), Path(ckpt).parent
    spec, found = rundata.training_data(payload, run_dir, data)
    split = _read_split(run_dir)
    if data is not None and data != rundata.FASHION_MNIST and not Path(data).exists():
        raise DatasetError(f"--data {data}: no such folder or file")
    gone_or_folder = Path(found).is_dir() if found is not None else not array_file(spec)
    is_folder = split is not None or (spec != rundata.FASHION_MNIST and gone_or_folder)
    if data is not None and not Path(data).is_dir():
        is_folder = False
    if is_folder:
        root = _root(split, found, data)
        if root is None:
            log(
                f"evaluation skipped: the training data {cfg.get('data') or split.get('root')} is gone; "
                "give --data DIR where it moved (or --no-eval to say so)"
            )
            return None
        if split is not None:
            items = recorded_test(split, root, log)
        else:
            items = folder.index(
                root, cfg.get("seed", 0), size=pre.content, channels=pre.channels, resize=pre.resize
            ).test
        return EvalSet(root.name, items=items[:limit] if limit else items)
    if found is None:
        log(
            f"evaluation skipped: the training data {spec} is gone; give --data where it moved (or --no-eval to say so)"
        )
        return None
    ds = load_data(found, seed=cfg.get("seed", 0), preprocess=pre)
    if len(ds.classes) != len(payload["classes"]):
        raise InputError(
            f"--data {spec}: {len(ds.classes)} classes do not match the checkpoint's {len(payload['classes'])}"
        )
    test = ds.test if not limit or limit >= len(ds.test) else ds.test.take(np.arange(limit))
    return EvalSet(ds.name, split=test)


def _read_split(run_dir: Path) -> dict | None:
    return folder.read_split(run_dir) if (Path(run_dir) / folder.SPLIT_FILE).is_file() else None

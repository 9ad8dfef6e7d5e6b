"""A checkpoint made from another one carries that run's calibration sample and split record beside it, so it
exports (calibrates, and evaluates on the held-out files) like its parent with the training data gone."""

from __future__ import annotations

from pathlib import Path

from sqz.errors import InputError
from sqz.files import write_bytes
from sqz.train import calibsample, folder

RUN_FILES = (calibsample.SAMPLE_FILE, folder.SPLIT_FILE)


def plan(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    """(file, copy) for each run file of checkpoint `src` that checkpoint `dst` needs beside it; InputError when
    `dst`'s directory already holds a different one (another run's). Call it before the work that makes `dst`."""
    here, there = Path(src).resolve().parent, Path(dst).resolve().parent
    if here == there:
        return []
    pairs = []
    for name in RUN_FILES:
        a, b = here / name, there / name
        if not a.is_file():
            continue
        if b.exists() and (not b.is_file() or b.read_bytes() != a.read_bytes()):
            raise InputError(
                f"{there} already holds another run's {name}; write {Path(dst).name} into a directory of its own"
            )
        pairs.append((a, b))
    return pairs


def copy(pairs: list[tuple[Path, Path]]) -> list[str]:
    """Copy each planned file (atomically); the names copied."""
    for a, b in pairs:
        write_bytes(b, a.read_bytes())
    return [b.name for _, b in pairs]

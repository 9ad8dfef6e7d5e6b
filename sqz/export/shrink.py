"""Shrink finished .tflite files: strip unread bytes (kept only if outputs stay bit-identical), and pack."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sqz.export.strip import strip
from sqz.files import write_bytes
from sqz.runtime import packed
from sqz.runtime.interpreters import TFLITE_CHOICES
from sqz.runtime.tflite import TFLiteSession


def _installed_interpreters() -> list[str]:
    import importlib.util

    mods = {"ai-edge-litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime"}
    return [n for n in TFLITE_CHOICES if n in mods and importlib.util.find_spec(mods[n])]


def strip_verified(path: Path, x: np.ndarray) -> dict:
    """Strip `path` in place when every installed interpreter (at least one) gives bit-identical outputs on
    `x`; with no interpreter to check, the file is left as it is."""
    before = path.stat().st_size
    tmp = path.with_name(f".{path.name}.stripped")
    checkers = _installed_interpreters()
    try:
        saved = strip(path, tmp)
        same = bool(checkers) and len(x) > 0 and all(
            np.array_equal(TFLiteSession(path, interpreter=i).run(x), TFLiteSession(tmp, interpreter=i).run(x))
            for i in checkers)
        if same:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"bytes_before": before, "bytes_after": path.stat().st_size, "saved": saved if same else {},
            "applied": same, "checked_images": int(len(x)), "checked_with": checkers}


def pack_artifact(path: Path) -> dict:
    """Write `path`.xz beside it; returns its manifest entry (file, codec, bytes, sha256)."""
    data = path.read_bytes()
    blob = packed.pack_bytes(data)
    dest = path.with_name(path.name + packed.SUFFIX)
    write_bytes(dest, blob)
    return {"file": dest.name, "codec": "xz", "bytes": len(blob), "sha256": packed.sha256_bytes(blob)}

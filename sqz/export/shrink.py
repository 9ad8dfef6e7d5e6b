"""Pack finished .tflite files (xz) and describe the packed file for the manifest."""

from __future__ import annotations

from pathlib import Path

from sqz.files import write_bytes
from sqz.runtime import packed


def pack_artifact(path: Path) -> dict:
    """Write `path`.xz beside it; returns its manifest entry (file, codec, bytes, sha256)."""
    data = path.read_bytes()
    blob = packed.pack_bytes(data)
    dest = path.with_name(path.name + packed.SUFFIX)
    write_bytes(dest, blob)
    return {"file": dest.name, "codec": "xz", "bytes": len(blob), "sha256": packed.sha256_bytes(blob)}

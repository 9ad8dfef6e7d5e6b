"""Packed artifacts: a model file compressed with stdlib lzma (xz), what sqz ships to a board.

lzma was chosen by measurement (see bench/tradeoff.py): it packs int8 weights smaller than gzip -9
and needs nothing beyond the Python standard library on the board.
"""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

from sqz.errors import ModelFileError

SUFFIX = ".xz"
PRESET = 9 | lzma.PRESET_EXTREME
MAX_UNPACKED = 1 << 30


def pack_bytes(data: bytes) -> bytes:
    """Deterministic xz container (no timestamps; fixed preset and check)."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=PRESET)


def unpack_file(path: Path) -> bytes:
    """The original bytes of a packed file; a damaged container is a ModelFileError."""
    try:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        with open(path, "rb") as f:
            out = dec.decompress(f.read(), max_length=MAX_UNPACKED)
        if not dec.eof:
            raise lzma.LZMAError("truncated or over 1 GiB")
        return out
    except (lzma.LZMAError, EOFError, OSError) as exc:
        raise ModelFileError(f"{path}: not a readable packed model ({exc}); re-export or re-deploy it") from None


def is_packed(path: Path) -> bool:
    return Path(path).name.endswith(SUFFIX)


def packed_size(data: bytes) -> int:
    return len(pack_bytes(data))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

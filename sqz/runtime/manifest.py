"""The manifest: what each model file is, readable without torch or TensorFlow."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqz.errors import ModelFileError

MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read(directory: Path) -> dict:
    """The manifest of an export or bundle directory."""
    path = Path(directory) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no manifest beside the model; export it with `sqz-export`") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: unreadable manifest ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("artifacts"), dict):
        raise ModelFileError(f"{path}: not an sqz manifest (no 'artifacts' table)")
    return data


def entry_for(model_path: Path) -> tuple[dict, dict]:
    """(manifest, the artifact's entry) for a model file that sits in an export directory."""
    model_path = Path(model_path)
    data = read(model_path.parent)
    entry = data["artifacts"].get(model_path.name)
    if entry is None:
        raise ModelFileError(f"{model_path}: not listed in {model_path.parent / MANIFEST}")
    return data, entry

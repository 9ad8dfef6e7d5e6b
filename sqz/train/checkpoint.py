"""Checkpoints: tensors and plain values only, written atomically, loaded with weights_only=True."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from sqz.errors import InputError, ModelFileError
from sqz.files import atomic_write
from sqz.runtime.preprocess import Preprocess
from sqz.train.arch import ArchConfig
from sqz.train.model import SqueezeNet, build

FORMAT = "sqz-checkpoint"
# What torch.load raises on a damaged, truncated or foreign file (weights_only=True).
LOAD_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    zipfile.BadZipFile,
    ValueError,
    AttributeError,
    TypeError,
    KeyError,
    IndexError,
    OSError,
    UnicodeDecodeError,
)


def save(
    path: Path,
    model: SqueezeNet,
    preprocess: Preprocess,
    classes: tuple[str, ...],
    record: dict,
    resume: dict | None = None,
) -> None:
    """Write a checkpoint; `resume` adds optimizer, scheduler and RNG state."""
    payload = {
        "format": FORMAT,
        "version": 1,
        "arch": model.cfg.to_dict(),
        "state_dict": {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()},
        "preprocess": preprocess.to_dict(),
        "classes": list(classes),
        "record": record,
    }
    if resume is not None:
        payload["resume"] = resume
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_raw(path: Path) -> dict:
    """The checkpoint dictionary, validated; user errors become ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except LOAD_ERRORS as exc:
        raise ModelFileError(
            f"{path}: not a readable sqz checkpoint ({exc.__class__.__name__}); give a .pt written by `sqz train`"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an sqz checkpoint (no '{FORMAT}' marker); give a .pt written by `sqz train`")
    for key in ("arch", "state_dict", "preprocess", "classes"):
        if key not in payload:
            raise ModelFileError(f"{path}: checkpoint lacks '{key}'")
    return payload


def load(path: Path) -> tuple[SqueezeNet, dict]:
    """Rebuild the model (eval mode) and return it with the checkpoint dictionary."""
    payload = load_raw(path)
    try:
        model = build(ArchConfig.from_dict(payload["arch"]))
        model.load_state_dict(payload["state_dict"])
        Preprocess.from_dict(payload["preprocess"])
    except (TypeError, ValueError, KeyError, RuntimeError, InputError) as exc:
        raise ModelFileError(
            f"{path}: checkpoint does not match its architecture ({str(exc).splitlines()[0][:200]})"
        ) from None
    return model.eval(), payload

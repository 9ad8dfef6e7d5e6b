"""The manifest: what each model file is, readable without torch or TensorFlow."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqz.errors import InputError, ModelFileError
from sqz.runtime.preprocess import Preprocess

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Artifact:
    """One model file: its bytes and sha256, format (tflite, onnx), precision, I/O spec (the session's
    `io_spec()`: input/output dtype, shape, scale, zero point, layout) and, when packed, its .xz entry."""

    bytes: int = 0
    sha256: str = ""
    format: str = ""
    precision: str = ""
    io: dict = field(default_factory=dict)
    packed: dict | None = None

    def to_dict(self) -> dict:
        d = {
            "bytes": self.bytes,
            "sha256": self.sha256,
            "format": self.format,
            "precision": self.precision,
            "io": self.io,
        }
        return d if self.packed is None else {**d, "packed": self.packed}

    @classmethod
    def from_dict(cls, d: dict) -> Artifact:
        if not isinstance(d, dict):
            raise TypeError(f"artifact entry is a {type(d).__name__}, not a table")
        packed = d.get("packed")
        return cls(
            int(d.get("bytes", 0)),
            str(d.get("sha256", "")),
            str(d.get("format", "")),
            str(d.get("precision", "")),
            dict(d.get("io") or {}),
            dict(packed) if packed else None,
        )


@dataclass(frozen=True)
class Manifest:
    """What an export or bundle directory holds: each file's `Artifact`, the `Preprocess` and labels the board
    needs, the architecture, the package versions; `micro` (TFLite Micro files) and `bundle` (deploy bundle)
    when present; `extra`: any other keys, carried through unchanged."""

    preprocess: Preprocess
    labels: tuple[str, ...]
    artifacts: dict[str, Artifact]
    sqz_version: str = ""
    checkpoint_sha256: str = ""
    arch: dict | None = None
    versions: dict = field(default_factory=dict)
    micro: dict | None = None
    bundle: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {
            "sqz_version": self.sqz_version,
            "checkpoint_sha256": self.checkpoint_sha256,
            "preprocess": self.preprocess.to_dict(),
            "labels": list(self.labels),
        }
        if self.arch is not None:
            d["arch"] = self.arch
        d["artifacts"] = {name: a.to_dict() for name, a in self.artifacts.items()}
        d["versions"] = self.versions
        for key in ("micro", "bundle"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return {**d, **self.extra}

    @classmethod
    def from_dict(cls, d: dict) -> Manifest:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(
            preprocess=Preprocess.from_dict(d["preprocess"]),
            labels=tuple(str(v) for v in d["labels"]),
            artifacts={str(name): Artifact.from_dict(a) for name, a in d["artifacts"].items()},
            sqz_version=str(d.get("sqz_version", "")),
            checkpoint_sha256=str(d.get("checkpoint_sha256", "")),
            arch=d.get("arch"),
            versions=dict(d.get("versions") or {}),
            micro=d.get("micro"),
            bundle=d.get("bundle"),
            extra={k: v for k, v in d.items() if k not in known},
        )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write(directory: Path, manifest: Manifest) -> Path:
    """Write `manifest` as manifest.json in `directory`; its path."""
    path = Path(directory) / MANIFEST
    path.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
    return path


def read(directory: Path) -> Manifest:
    """The manifest of an export or bundle directory; a missing or malformed one is a ModelFileError."""
    path = Path(directory) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no manifest beside the model; export it with `sqz-export`") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: unreadable manifest ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("artifacts"), dict):
        raise ModelFileError(f"{path}: not an sqz manifest (no 'artifacts' table)")
    try:
        return Manifest.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, InputError) as exc:
        raise ModelFileError(f"{path}: no usable preprocess/labels/artifacts ({exc!r:.80})") from None


def entry_for(model_path: Path) -> tuple[Manifest, Artifact]:
    """(manifest, the artifact) for a model file that sits in an export directory."""
    model_path = Path(model_path)
    data = read(model_path.parent)
    entry = data.artifacts.get(model_path.name)
    if entry is None:
        raise ModelFileError(f"{model_path}: not listed in {model_path.parent / MANIFEST}")
    return data, entry

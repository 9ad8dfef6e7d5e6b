"""A deploy bundle: the model, its manifest, SHA256SUMS, sample images and the board runtime, in one directory."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import sqz
from sqz.errors import InputError, ModelFileError
from sqz.runtime import manifest as manifests
from sqz.targets.artifact import board_model
from sqz.targets.profiles import LinuxProfile
from sqz.targets.samples import sample_images

SUMS = "SHA256SUMS"
PROBE = Path(__file__).with_name("probe.py")


def runtime_files() -> list[tuple[Path, str]]:
    """(source, path inside lib/) of what a board needs from sqz: the package root, errors and runtime."""
    root = Path(sqz.__file__).parent
    files = [root / "__init__.py", root / "errors.py", *sorted((root / "runtime").glob("*.py"))]
    return [(f, str(Path("sqz") / f.relative_to(root))) for f in files]


def write_runtime(dest: Path) -> None:
    """Copy the board runtime (sqz/__init__.py, errors.py, runtime/) and the probe script into dest."""
    for src, rel in runtime_files():
        (dest / "lib" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / "lib" / rel)
    shutil.copyfile(PROBE, dest / "probe.py")


def build(
    model: Path,
    out: Path,
    profile: LinuxProfile,
    images: list[Path] | None = None,
    samples: int = 8,
    os_name: str | None = None,
    log=lambda msg: None,
) -> Path:
    """Write the bundle for `model` into `out`; returns `out`. MODEL: a .tflite or .onnx in an export directory,
    or the directory (its int8 .tflite; model.onnx for armv7l on Debian trixie, see `sqz.targets.artifact`)."""
    from sqz.runtime import load

    model = Path(model)
    if model.suffix != ".onnx":
        model, note = board_model(model, profile.arch, os_name)
        if note:
            log(f"{profile.name}: {note}; the board needs python3-onnxruntime")
    if model.suffix not in (".tflite", ".onnx"):
        raise InputError(f"{model}: deploy a .tflite or .onnx model of an export, e.g. model_int8.tflite")
    data, entry = manifests.entry_for(model)
    x, source = sample_images(data, samples, images)
    top1 = load(model).predict(x).argmax(axis=1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".bundle.", dir=out.parent))
    try:
        shutil.copyfile(model, tmp / model.name)
        if manifests.sha256(tmp / model.name) != entry.sha256:
            raise ModelFileError(f"{model}: sha256 does not match its manifest; re-export it")
        (tmp / "smoke").mkdir()
        np.save(tmp / "smoke" / "inputs.npy", x)
        write_runtime(tmp)
        bundle = {
            "model": model.name,
            "target": profile.to_dict(),
            "sqz_version": sqz.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "smoke": {"images": "smoke/inputs.npy", "source": source, "top1": [int(v) for v in top1]},
        }
        manifests.write(tmp, dataclasses.replace(data, artifacts={model.name: entry}, bundle=bundle))
        write_sums(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def write_sums(directory: Path) -> None:
    """SHA256SUMS in `sha256sum -c` format for every file below directory."""
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != SUMS)
    lines = [f"{manifests.sha256(p)}  {p.relative_to(directory).as_posix()}" for p in files]
    (directory / SUMS).write_text("\n".join(lines) + "\n")


def release_id(bundle: Path) -> str:
    """A release name that changes whenever any file of the bundle does: the hash of its SHA256SUMS."""
    sums = bundle / SUMS
    if not sums.is_file():
        raise InputError(f"{bundle}: not a deploy bundle (no {SUMS}); build one with `sqz deploy`")
    return hashlib.sha256(sums.read_bytes()).hexdigest()[:12]

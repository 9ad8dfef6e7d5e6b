"""`sqz verify --target <micro>`: TFLite Micro and the generated C against the reference kernels, bit by bit."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sqz.errors import InputError
from sqz.runtime import manifest as manifests
from sqz.runtime.interpreters import REFERENCE, reference_outputs
from sqz.runtime.preprocess import Preprocess, normalize
from sqz.targets import profiles
from sqz.targets.micro import cfiles, cortexm, tflm
from sqz.targets.micro.cverify import QEMU_IMAGES, CVerification, verify_c
from sqz.targets.samples import sample_images


@dataclass
class MicroVerification:
    """Raw int8 outputs of TFLite Micro vs the reference kernels on the same quantised images."""

    model: str
    target: str
    images: int
    source: str
    identical: int
    max_step: int
    host_arena: int
    arena: int
    seconds: float
    c: CVerification | None = None

    @property
    def ok(self) -> bool:
        tflm = self.images > 0 and self.identical == self.images and self.max_step == 0
        return tflm and (self.c is None or self.c.ok)

    def lines(self) -> list[str]:
        """The TFLite Micro line, then one per C build."""
        return [self.line()] + (self.c.lines() if self.c else [])

    def line(self) -> str:
        same = self.images > 0 and self.identical == self.images and self.max_step == 0
        verdict = "bit-identical" if same else f"max {self.max_step} int8 steps apart"
        return (
            f"{'PASS' if same else 'FAIL'}  {self.target} (TFLite Micro on this machine vs {REFERENCE} "
            f"reference kernels): {self.identical}/{self.images} outputs identical, {verdict}, on "
            f"{self.source}; arena {self.host_arena:,} B here, {self.arena:,} B for the board "
            f"({self.seconds:.1f} s)"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "c": self.c.to_dict() if self.c else None}


def quantised_inputs(images: np.ndarray, pre: Preprocess, io: dict) -> np.ndarray:
    """uint8 images → the int8 NHWC tensors the model takes, exactly as sqz.runtime quantises them."""
    x = normalize(images, pre).transpose(0, 2, 3, 1)
    scale, zero = io["input"]["scale"], io["input"]["zero_point"]
    return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)


def compare(content: bytes, x: np.ndarray, ref: np.ndarray | None = None) -> tuple[int, int, int]:
    """(identical outputs, largest step difference, smallest arena) of TFLite Micro vs the reference kernels
    (their outputs `ref`, computed when not given)."""
    arena = tflm.smallest_arena(content)
    micro = tflm.outputs(content, x, arena).astype(np.int64)
    ref = (reference_outputs(content, x) if ref is None else ref).astype(np.int64)
    diff = np.abs(micro - ref).reshape(len(x), -1).max(axis=1)
    return int((diff == 0).sum()), int(diff.max()), arena


def _default_samples(export_dir: Path) -> int:
    """As many test images as the export evaluated (report.json), else 500."""
    try:
        return int(json.loads((export_dir / "report.json").read_text())["eval_images"])
    except (OSError, ValueError, KeyError, TypeError):
        return 500


def verify(
    model: Path,
    target: str,
    images: list[Path] | None = None,
    samples: int | None = None,
    log=lambda msg: None,
    generate=None,
    qemu_images: int | None = None,
) -> MicroVerification:
    """Run MODEL in TFLite Micro and with the reference kernels on the same images; compare every output. Also its
    C (the export's sqz_model.c, else what `generate` writes; skipped when neither) on this machine and on
    emulated Cortex-M4/M7/M33/M55 (`qemu_images` images each: default all given with --samples, else 1,000)."""
    profile = profiles.get(target, "micro")
    model = Path(model)
    if model.is_dir():
        model = model / "model_int8.tflite"
    if model.suffix != ".tflite" or not model.is_file():
        raise InputError(f"{model}: give a .tflite model in an export directory (e.g. exports/default)")
    data, entry = manifests.entry_for(model)
    if entry.precision != "int8":
        raise InputError(f"{model}: TFLite Micro runs the full-int8 model; give model_int8.tflite")
    c_code = generate is not None or cfiles.exported(model, entry.sha256)
    if c_code:
        cortexm.require_tools()
        cfiles.host_compiler()
    n = samples or _default_samples(model.parent)
    raw, source = sample_images(data, n, images)
    x = quantised_inputs(raw, data.preprocess, entry.io)
    log(f"TFLite Micro vs reference kernels on {len(x):,} images …")
    start = time.monotonic()
    content = model.read_bytes()
    ref = reference_outputs(content, x)
    identical, step, arena = compare(content, x, ref)
    v = MicroVerification(
        str(model),
        profile.name,
        len(x),
        source,
        identical,
        step,
        arena,
        profiles.board_arena(arena),
        time.monotonic() - start,
    )
    if c_code:
        v.c = verify_c(
            model,
            data,
            entry,
            x,
            ref,
            f"{REFERENCE} reference kernels",
            generate,
            qemu_images=qemu_images or (samples or QEMU_IMAGES),
            log=log,
        )
    return v

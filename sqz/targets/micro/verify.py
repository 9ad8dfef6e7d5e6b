"""`sqz verify --target <micro>`: TFLite Micro on this machine against ai-edge-litert's reference kernels, bit by bit."""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sqz.errors import InputError
from sqz.runtime import manifest as manifests
from sqz.runtime.preprocess import Preprocess, normalize
from sqz.targets.micro import boards, tflm
from sqz.targets.samples import sample_images

REFERENCE = "ai-edge-litert"


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

    @property
    def ok(self) -> bool:
        return self.images > 0 and self.identical == self.images and self.max_step == 0

    def line(self) -> str:
        verdict = "bit-identical" if self.ok else f"max {self.max_step} int8 steps apart"
        return (f"{'PASS' if self.ok else 'FAIL'}  {self.target} (TFLite Micro on this machine vs {REFERENCE} "
                f"reference kernels): {self.identical}/{self.images} outputs identical, {verdict}, on "
                f"{self.source}; arena {self.host_arena:,} B here, {self.arena:,} B for the board "
                f"({self.seconds:.1f} s)")

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def reference_outputs(content: bytes, x: np.ndarray) -> np.ndarray:
    """Raw outputs of ai-edge-litert with TFLite's reference kernels (BUILTIN_REF), one image at a time."""
    from sqz.runtime.interpreters import tflite_interpreter_class

    _, cls = tflite_interpreter_class(REFERENCE)
    module = importlib.import_module(cls.__module__)
    interp = cls(model_content=content, experimental_op_resolver_type=module.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    out = []
    for sample in x:
        interp.set_tensor(i, sample[None])
        interp.invoke()
        out.append(interp.get_tensor(o)[0].copy())
    return np.stack(out)


def quantised_inputs(images: np.ndarray, pre: Preprocess, io: dict) -> np.ndarray:
    """uint8 images → the int8 NHWC tensors the model takes, exactly as sqz.runtime quantises them."""
    x = normalize(images, pre).transpose(0, 2, 3, 1)
    scale, zero = io["input"]["scale"], io["input"]["zero_point"]
    return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)


def compare(content: bytes, x: np.ndarray) -> tuple[int, int, int]:
    """(identical outputs, largest step difference, smallest arena) of TFLite Micro vs the reference kernels."""
    arena = tflm.smallest_arena(content)
    micro = tflm.outputs(content, x, arena).astype(np.int64)
    ref = reference_outputs(content, x).astype(np.int64)
    diff = np.abs(micro - ref).reshape(len(x), -1).max(axis=1)
    return int((diff == 0).sum()), int(diff.max()), arena


def _default_samples(export_dir: Path) -> int:
    """As many test images as the export evaluated (report.json), else 500."""
    try:
        return int(json.loads((export_dir / "report.json").read_text())["eval_images"])
    except (OSError, ValueError, KeyError, TypeError):
        return 500


def verify(model: Path, target: str, images: list[Path] | None = None, samples: int | None = None,
           log=lambda msg: None) -> MicroVerification:
    """Run MODEL in TFLite Micro and with the reference kernels on the same images; compare every output."""
    profile = boards.get(target)
    model = Path(model)
    if model.is_dir():
        model = model / "model_int8.tflite"
    if model.suffix != ".tflite" or not model.is_file():
        raise InputError(f"{model}: give a .tflite model in an export directory (e.g. exports/default)")
    data, entry = manifests.entry_for(model)
    if entry.get("precision") != "int8":
        raise InputError(f"{model}: TFLite Micro runs the full-int8 model; give model_int8.tflite")
    n = samples or _default_samples(model.parent)
    raw, source = sample_images(data, n, images)
    x = quantised_inputs(raw, Preprocess.from_dict(data["preprocess"]), entry["io"])
    log(f"TFLite Micro vs reference kernels on {len(x):,} images …")
    start = time.monotonic()
    identical, step, arena = compare(model.read_bytes(), x)
    return MicroVerification(str(model), profile.name, len(x), source, identical, step, arena,
                             boards.board_arena(arena), time.monotonic() - start)

"""TensorFlow Lite Micro's own interpreter on this machine: the smallest working arena, raw int8 outputs."""

from __future__ import annotations

import re

import numpy as np

from sqz.errors import ModelFileError, ToolError
from sqz.runtime.stderr import captured_stderr

MAX_ARENA = 64 << 20
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '([^']+)'")


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise ToolError("tflite-micro is not installed; pip install 'sqz[micro]'") from None
    return runtime


def _try(content: bytes, arena: int):
    """An interpreter that allocated and ran once within `arena` bytes, or None and what TFLM printed."""
    runtime = _runtime()
    with captured_stderr() as err:
        try:
            interp = runtime.Interpreter.from_bytes(content, arena_size=arena)
            d = interp.get_input_details(0)
            interp.set_input(np.zeros(d["shape"], d["dtype"]), 0)
            interp.invoke()
        except RuntimeError:
            interp = None
    return interp, err["text"]


def smallest_arena(content: bytes) -> int:
    """The smallest `arena_size` in which TFLite Micro allocates and invokes the model (bisection)."""
    interp, text = _try(content, MAX_ARENA)
    if interp is None:
        missing = _MISSING_OP.search(text)
        if missing:
            raise ModelFileError(f"TFLite Micro has no kernel for op {missing.group(1)}; it cannot run this model")
        first = (text.strip().splitlines() or ["no message"])[0]
        raise ModelFileError(f"TFLite Micro cannot run this model in {MAX_ARENA >> 20} MiB of arena ({first})")
    lo, hi = 1, 256 << 10
    while hi < MAX_ARENA and _try(content, hi)[0] is None:
        lo, hi = hi + 1, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if _try(content, mid)[0] is not None:
            hi = mid
        else:
            lo = mid + 1
    return lo


def outputs(content: bytes, x: np.ndarray, arena: int | None = None) -> np.ndarray:
    """Raw output tensors (N, ...) for quantised inputs `x` (N, ...), one image at a time."""
    interp, text = _try(content, arena or MAX_ARENA)
    if interp is None:
        raise ModelFileError(f"TFLite Micro cannot run this model ({(text.strip().splitlines() or [''])[0]})")
    out = []
    for sample in x:
        interp.set_input(sample[None], 0)
        interp.invoke()
        out.append(np.array(interp.get_output(0))[0])
    return np.stack(out)

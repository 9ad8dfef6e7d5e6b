"""Run a .tflite file: NHWC input, int8 (de)quantisation done here from the file's own parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqz.errors import ModelFileError
from sqz.runtime import validate
from sqz.runtime.interpreters import tflite_interpreter_class
from sqz.runtime.isolate import isolated

TFLITE_IDENTIFIER = b"TFL3"


def looks_like_tflite(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] == TFLITE_IDENTIFIER


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [exc.__class__.__name__])[0][:160]


def quantize_input(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float32 images in the input tensor's dtype, by its own (scale, zero point); float32 inputs pass as they are."""
    if detail["dtype"] == np.float32:
        return x
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(detail["dtype"])


def _first_run(cls, content: bytes, threads: int | None) -> None:
    """Load, allocate and invoke once on zeros: what a damaged file would crash."""
    interp = cls(model_content=content, num_threads=threads)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    interp.invoke()


class TFLiteSession:
    """A loaded interpreter with its input/output details; `run` takes float NCHW batches."""

    def __init__(
        self, path: Path, threads: int | None = None, interpreter: str | None = None, content: bytes | None = None
    ) -> None:
        """Open `path`, or `content` (the unpacked bytes of a packed file) when given."""
        if content is None:
            content = validate.read_model(path)
        if not looks_like_tflite(content[:8]):
            raise ModelFileError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
        validate.tflite(content, path)
        self.interpreter_name, cls = tflite_interpreter_class(interpreter)
        self._content = content
        isolated(lambda: _first_run(cls, content, threads), path)
        self.path = path
        try:
            self.interp = cls(model_content=content, num_threads=threads)
            self.interp.allocate_tensors()
            self.inp = self.interp.get_input_details()[0]
            self.out = self.interp.get_output_details()[0]
        except (ValueError, RuntimeError, IndexError) as exc:
            raise ModelFileError(f"{path}: the interpreter refused it ({_first_line(exc)})") from None
        self.layout = "NHWC" if len(self.inp["shape"]) == 4 and self.inp["shape"][-1] in (1, 3) else "NCHW"

    def run(self, x: np.ndarray) -> np.ndarray:
        """Float logits for normalised float32 NCHW images, one interpreter call per image."""
        if self.layout == "NHWC":
            x = x.transpose(0, 2, 3, 1)
        x = quantize_input(x, self.inp)
        outs = []
        try:
            for i in range(len(x)):
                self.interp.set_tensor(self.inp["index"], x[i : i + 1])
                self.interp.invoke()
                outs.append(self.interp.get_tensor(self.out["index"]).copy())
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"{self.path}: cannot run it on {tuple(x.shape[1:])} images as its manifest "
                f"describes them ({_first_line(exc)})"
            ) from None
        y = np.concatenate(outs)
        o_scale, o_zero = self.out["quantization"]
        if self.out["dtype"] != np.float32:
            y = (y.astype(np.float32) - o_zero) * o_scale
        return y.reshape(len(y), -1)

    def io_spec(self) -> dict:
        """Input/output dtype, shape, layout and quantisation as the file declares them."""

        def spec(d: dict) -> dict:
            scale, zero = d["quantization"]
            return {
                "dtype": np.dtype(d["dtype"]).name,
                "shape": [int(v) for v in d["shape"]],
                "scale": float(scale),
                "zero_point": int(zero),
            }

        return {
            "input": {**spec(self.inp), "layout": self.layout},
            "output": spec(self.out),
            "interpreter": self.interpreter_name,
        }

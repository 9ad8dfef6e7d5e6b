"""Run a .onnx file with onnxruntime (NCHW float32 in, logits out)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqz.errors import ModelFileError, ToolError
from sqz.runtime.signals import held


class ONNXSession:
    """An onnxruntime session over one model file."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            with held():  # a Ctrl-C or SIGTERM inside a native module's init comes out as ImportError
                import onnxruntime as ort
        except ImportError:
            raise ToolError("onnxruntime is not installed; pip install 'sqz[board]' or 'sqz[export]'") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        try:
            self.sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelFileError(f"{path}: onnxruntime refused it ({str(exc).splitlines()[0][:160]})") from None
        self.input_name = self.sess.get_inputs()[0].name
        self.interpreter_name = f"onnxruntime {ort.__version__}"
        self.layout = "NCHW"

    def run(self, x: np.ndarray, batch: int = 256) -> np.ndarray:
        outs = [self.sess.run(None, {self.input_name: x[i : i + batch]})[0] for i in range(0, len(x), batch)]
        return np.concatenate(outs).reshape(len(x), -1)

    def io_spec(self) -> dict:
        i, o = self.sess.get_inputs()[0], self.sess.get_outputs()[0]
        return {
            "input": {"dtype": "float32", "shape": list(i.shape), "layout": "NCHW"},
            "output": {"dtype": "float32", "shape": list(o.shape)},
            "interpreter": self.interpreter_name,
        }

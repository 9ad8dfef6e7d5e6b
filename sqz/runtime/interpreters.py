"""Pick a TFLite interpreter: ai-edge-litert, then tflite-runtime, then tf.lite (slowest to import)."""

from __future__ import annotations

import importlib

from sqz.errors import ToolError
from sqz.runtime.signals import held

TFLITE_CHOICES = ("ai-edge-litert", "tflite-runtime", "tensorflow")
_MODULES = {
    "ai-edge-litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow.lite",
}


def cannot_run(name: str) -> str | None:
    """Why an installed interpreter cannot run beside this numpy, or None: tflite-runtime's last release (2.14)
    was built for numpy 1 and fails on its first model under numpy 2."""
    import numpy as np

    if name == "tflite-runtime" and int(np.__version__.split(".")[0]) >= 2:
        return (
            f"tflite-runtime was built for numpy 1 and cannot run beside numpy {np.__version__}; use "
            "ai-edge-litert, or pip install 'numpy<2'"
        )
    return None


def tflite_interpreter_class(prefer: str | None = None):
    """(name, Interpreter class) of the first available choice, or `prefer` alone when given."""
    order = [prefer] if prefer else list(TFLITE_CHOICES)
    for name in order:
        if name not in _MODULES:
            raise ToolError(f"unknown interpreter {name!r}; choose one of {', '.join(TFLITE_CHOICES)}")
        try:
            with held():  # a Ctrl-C or SIGTERM inside a native module's init comes out as ImportError
                module = importlib.import_module(_MODULES[name])
        except ImportError:
            continue
        why = cannot_run(name)
        if why and prefer:
            raise ToolError(why)
        if why:
            continue
        return name, module.Interpreter
    raise ToolError(
        "no TFLite interpreter installed; pip install 'sqz[board]' (ai-edge-litert, or tflite-runtime on armv7l)"
    )

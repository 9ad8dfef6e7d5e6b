"""Pick a TFLite interpreter: ai-edge-litert, then tflite-runtime, then tf.lite (slowest to import)."""

from __future__ import annotations

import importlib

from sqz.errors import ToolError

TFLITE_CHOICES = ("ai-edge-litert", "tflite-runtime", "tensorflow")
_MODULES = {"ai-edge-litert": "ai_edge_litert.interpreter", "tflite-runtime": "tflite_runtime.interpreter",
            "tensorflow": "tensorflow.lite"}


def tflite_interpreter_class(prefer: str | None = None):
    """(name, Interpreter class) of the first available choice, or `prefer` alone when given."""
    order = [prefer] if prefer else list(TFLITE_CHOICES)
    for name in order:
        if name not in _MODULES:
            raise ToolError(f"unknown interpreter {name!r}; choose one of {', '.join(TFLITE_CHOICES)}")
        try:
            module = importlib.import_module(_MODULES[name])
        except ImportError:
            continue
        return name, module.Interpreter
    raise ToolError("no TFLite interpreter installed; pip install 'sqz[board]' "
                    "(ai-edge-litert, or tflite-runtime on armv7l)")

"""Choosing a TFLite interpreter: tflite-runtime (built for numpy 1) is passed over beside numpy 2, and asking for
it there is one clear error instead of a crash on the first model."""

import numpy as np
import pytest

from sqz.errors import ToolError
from sqz.runtime import interpreters


def test_tflite_runtime_is_refused_beside_numpy_2_and_skipped_when_not_asked_for(monkeypatch):
    monkeypatch.setattr(np, "__version__", "2.1.0")
    assert "numpy 1" in interpreters.cannot_run("tflite-runtime")
    assert interpreters.cannot_run("ai-edge-litert") is None
    monkeypatch.setattr(interpreters, "TFLITE_CHOICES", ("tflite-runtime", "ai-edge-litert"))
    monkeypatch.setitem(interpreters._MODULES, "tflite-runtime", "numpy")  # importable stand-in
    assert interpreters.tflite_interpreter_class()[0] == "ai-edge-litert"
    with pytest.raises(ToolError, match="pip install 'numpy<2'"):
        interpreters.tflite_interpreter_class("tflite-runtime")
    monkeypatch.setattr(np, "__version__", "1.26.4")
    assert interpreters.cannot_run("tflite-runtime") is None


def test_an_interrupt_inside_the_interpreters_import_is_not_taken_for_a_missing_one(monkeypatch):
    """A SIGTERM landing in a native module's init surfaces from the import as ImportError: it must stop the
    command (exit 130 through the CLI's handler), not read as "no TFLite interpreter installed"."""
    import os
    import signal
    import types

    def interrupted_import(name):
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # lands while the module initialises
            for _ in range(10_000):
                pass
        except KeyboardInterrupt as exc:  # what pybind11 makes of an error inside a module's init
            raise ImportError(f"{name}: init interrupted") from exc
        return types.SimpleNamespace(Interpreter=object)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, terminate)
    try:
        monkeypatch.setattr(interpreters.importlib, "import_module", interrupted_import)
        with pytest.raises(KeyboardInterrupt):
            interpreters.tflite_interpreter_class()
    finally:
        signal.signal(signal.SIGTERM, old)

"""Pick a TFLite interpreter: ai-edge-litert, then tflite-runtime, then tf.lite (slowest to import); open one
with a chosen op resolver, such as TFLite's reference kernels, the bit-exact reference."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqz.errors import ToolError
from sqz.runtime.signals import held

if TYPE_CHECKING:
    import numpy as np

TFLITE_CHOICES = ("ai-edge-litert", "tflite-runtime", "tensorflow")
REFERENCE = "ai-edge-litert"
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


def kernel_interpreter(model: bytes | str | Path, resolver: str = "BUILTIN_REF", name: str | None = REFERENCE) -> Any:
    """An allocated interpreter `name` for a .tflite file's bytes or path, with the op resolver `resolver`: BUILTIN_REF
    (TFLite's reference kernels) or BUILTIN_WITHOUT_DEFAULT_DELEGATES (the optimised built-ins without XNNPACK)."""
    _, cls = tflite_interpreter_class(name)
    module = importlib.import_module(cls.__module__)
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    interp = cls(**source, experimental_op_resolver_type=getattr(module.OpResolverType, resolver))
    interp.allocate_tensors()
    return interp


def reference_outputs(content: bytes, x: np.ndarray, name: str = REFERENCE) -> np.ndarray:
    """Raw outputs of the model `content` on the quantised inputs `x` with TFLite's reference kernels (BUILTIN_REF),
    one image at a time."""
    import numpy as np

    interp = kernel_interpreter(content, "BUILTIN_REF", name)
    i, o = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    out = []
    for sample in x:
        interp.set_tensor(i, sample[None])
        interp.invoke()
        out.append(interp.get_tensor(o)[0].copy())
    return np.stack(out)

"""What a micro target needs to know about a .tflite: its ops, whether buffers are stored by offset, its I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqz.errors import ToolError

OPS_FILE = Path(__file__).with_name("ops.json")


@dataclass(frozen=True)
class ModelInfo:
    """Builtin op names in first-use order, buffers stored after the flatbuffer, and the file size."""

    ops: tuple[str, ...]
    offset_buffers: int
    bytes: int


def _schema():
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated
    except ImportError:
        raise ToolError("tflite-micro is not installed; pip install 'sqz[micro]'") from None
    return schema_py_generated


@lru_cache(maxsize=1)
def resolver_methods() -> dict[str, str]:
    """Builtin op name → MicroMutableOpResolver method (from TFLite Micro's header)."""
    return json.loads(OPS_FILE.read_text())["ops"]


def read(content: bytes) -> ModelInfo:
    """Ops and offset-stored buffers of a TFLite flatbuffer (already structurally validated)."""
    s = _schema()
    model = s.Model.GetRootAs(content, 0)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        codes.append(
            "CUSTOM:" + oc.CustomCode().decode()
            if code == s.BuiltinOperator.CUSTOM
            else names.get(code, f"builtin {code}")
        )
    used: list[str] = []
    for g in range(model.SubgraphsLength()):
        sub = model.Subgraphs(g)
        for o in range(sub.OperatorsLength()):
            name = codes[sub.Operators(o).OpcodeIndex()]
            if name not in used:
                used.append(name)
    offset = sum(1 for b in range(model.BuffersLength()) if model.Buffers(b).Offset() > 1)
    return ModelInfo(tuple(used), offset, len(content))


def unsupported(info: ModelInfo) -> list[str]:
    """Ops in the model that TFLite Micro's MicroMutableOpResolver cannot add."""
    return [op for op in info.ops if op not in resolver_methods()]

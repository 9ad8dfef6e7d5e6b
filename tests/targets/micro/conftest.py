"""Files for the micro-target tests, built from the session's real int8 export."""

from __future__ import annotations

from pathlib import Path

import pytest


def _pack(model) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def offset_stored(content: bytes) -> bytes:
    """The same model with every weight buffer moved after the flatbuffer and referenced by offset/size."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(content, 0)
    data = [bytes(bytearray(b.data)) if b.data is not None else b"" for b in model.buffers]
    for b, d in zip(model.buffers, data):
        if d:
            b.data, b.offset, b.size = None, 1 << 60, len(d)  # placeholder of the final width
    head = len(_pack(model))
    tail = bytearray(b"\0" * (-head % 16))
    for b, d in zip(model.buffers, data):
        if d:
            b.offset = head + len(tail)
            tail += d + b"\0" * (-len(d) % 16)
    packed = _pack(model)
    assert len(packed) == head
    return packed + bytes(tail)


def with_op_renamed(content: bytes, old: str, new: str) -> bytes:
    """The same model with builtin op `old` replaced by `new` in its opcode table."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(content, 0)
    for oc in model.operatorCodes:
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == getattr(s.BuiltinOperator, old):
            oc.builtinCode = oc.deprecatedBuiltinCode = getattr(s.BuiltinOperator, new)
    return _pack(model)


@pytest.fixture(scope="session")
def offset_model(int8_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("offset") / "offset_int8.tflite"
    path.write_bytes(offset_stored(int8_model.read_bytes()))
    return path


@pytest.fixture(scope="session")
def missing_op_model(int8_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("missing_op") / "lsh_int8.tflite"
    path.write_bytes(with_op_renamed(int8_model.read_bytes(), "RESHAPE", "LSH_PROJECTION"))
    return path

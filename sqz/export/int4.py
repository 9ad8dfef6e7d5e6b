"""Rewrite chosen CONV_2D filters of a full-int8 .tflite to INT4: two values per byte (low nibble first),
per-output-channel scales max|w|/7, biases requantised to the new scales, CONV_2D opcode version 7."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqz.errors import ModelFileError
from sqz.export.strip import tflite_schema

INT4_CONV_VERSION = 7
QMAX = 7


def _load(content: bytes):
    s = tflite_schema()
    return s, s.ModelT.InitFromObj(s.Model.GetRootAsModel(content, 0))


def _convs(s, model) -> list:
    """(operator, filter tensor index, bias tensor index) of every CONV_2D in the first subgraph, in order."""
    sg = model.subgraphs[0]
    out = []
    for op in sg.operators:
        oc = model.operatorCodes[op.opcodeIndex]
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == s.BuiltinOperator.CONV_2D:
            bias = int(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else -1
            out.append((op, int(op.inputs[1]), bias))
    return out


def _array(model, tensor, dtype) -> np.ndarray:
    data = model.buffers[tensor.buffer].data
    if data is None:
        raise ModelFileError("a CONV_2D filter has no inline buffer; export it with sqz-export")
    return np.frombuffer(bytes(bytearray(data)), dtype=dtype).reshape(tensor.shape)


def filters(content: bytes) -> list[np.ndarray]:
    """The dequantised float filters (O, H, W, I) of every int8 CONV_2D, in operator order."""
    s, model = _load(content)
    sg = model.subgraphs[0]
    out = []
    for _, f, _ in _convs(s, model):
        t = sg.tensors[f]
        scale = np.asarray(t.quantization.scale, np.float32).reshape(-1, 1, 1, 1)
        out.append(_array(model, t, np.int8).astype(np.float32) * scale)
    return out


def pack_nibbles(q: np.ndarray) -> bytes:
    """Signed 4-bit values, flattened row-major, two per byte, low nibble first (odd counts padded with 0)."""
    flat = q.astype(np.int8).reshape(-1)
    if flat.size % 2:
        flat = np.append(flat, np.int8(0))
    nib = (flat.astype(np.uint8) & 0x0F)
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8).tobytes()


def unpack_nibbles(data: bytes, count: int) -> np.ndarray:
    """Inverse of `pack_nibbles`: `count` signed values in [-8, 7]."""
    b = np.frombuffer(data, np.uint8)
    nib = np.stack([b & 0x0F, b >> 4], axis=1).reshape(-1)[:count].astype(np.int8)
    return np.where(nib > 7, nib - 16, nib).astype(np.int8)


def quantize4(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int4 values in [-7, 7], per-output-channel scales max|w|/7) of a float filter (O, ...)."""
    amax = np.abs(w.reshape(len(w), -1)).max(1)
    scale = np.where(amax > 0, amax / QMAX, 1.0).astype(np.float32)
    q = np.clip(np.round(w / scale.reshape(-1, *([1] * (w.ndim - 1)))), -QMAX, QMAX).astype(np.int8)
    return q, scale


def _int4_opcode(s, model) -> int:
    """Index of a CONV_2D operator code at version 7 (appended if the model has none)."""
    for i, oc in enumerate(model.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == s.BuiltinOperator.CONV_2D and \
                oc.version == INT4_CONV_VERSION:
            return i
    oc = s.OperatorCodeT()
    oc.builtinCode = s.BuiltinOperator.CONV_2D
    oc.deprecatedBuiltinCode = s.BuiltinOperator.CONV_2D
    oc.version = INT4_CONV_VERSION
    model.operatorCodes.append(oc)
    return len(model.operatorCodes) - 1


def to_int4(content: bytes, layers: set[int] | None = None) -> bytes:
    """`content` with the CONV_2D filters at positions `layers` (operator order; None: all) in INT4."""
    import flatbuffers

    s, model = _load(content)
    sg = model.subgraphs[0]
    convs = _convs(s, model)
    chosen = set(range(len(convs))) if layers is None else set(layers)
    opcode = _int4_opcode(s, model) if chosen else None
    for pos, (op, f, b) in enumerate(convs):
        if pos not in chosen:
            continue
        t = sg.tensors[f]
        if t.type != s.TensorType.INT8:
            raise ModelFileError(f"CONV_2D {pos}: filter is not int8 (type {t.type}); give the full-int8 model")
        old = np.asarray(t.quantization.scale, np.float32)
        q, scale = quantize4(_array(model, t, np.int8).astype(np.float32) * old.reshape(-1, 1, 1, 1))
        model.buffers[t.buffer].data = np.frombuffer(pack_nibbles(q), np.uint8)
        t.type = s.TensorType.INT4
        t.quantization.scale = scale.tolist()
        t.quantization.zeroPoint = [0] * len(scale)
        t.quantization.quantizedDimension = 0
        if b >= 0:
            _requantize_bias(model, sg.tensors[b], old, scale)
        op.opcodeIndex = opcode
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _requantize_bias(model, t, old_w: np.ndarray, new_w: np.ndarray) -> None:
    """int32 bias at scale s_in·s_w: keep its float value under the new filter scales."""
    b_scale = np.asarray(t.quantization.scale, np.float64)
    value = _array(model, t, np.int32).astype(np.float64) * b_scale
    s_new = b_scale / old_w.astype(np.float64) * new_w.astype(np.float64)
    q = np.clip(np.round(value / s_new), np.iinfo(np.int32).min, np.iinfo(np.int32).max).astype(np.int32)
    model.buffers[t.buffer].data = np.frombuffer(q.tobytes(), np.uint8)
    t.quantization.scale = s_new.astype(np.float32).tolist()


def write_int4(src: Path, dst: Path, layers: set[int] | None = None) -> int:
    """Write the INT4 rewrite of `src` to `dst` (atomically); returns its bytes."""
    from sqz.files import write_bytes

    data = to_int4(Path(src).read_bytes(), layers)
    write_bytes(dst, data)
    return len(data)

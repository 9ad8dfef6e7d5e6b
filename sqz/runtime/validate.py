"""Check model files before native code reads them: size, and a structural TFLite flatbuffer check.

Stdlib only: it runs on the board (the isolated first load is in isolate.py). The TFLite check follows
the flatbuffers binary format (root offset, vtables, tables, vectors, strings) and
tensorflow/lite/schema/schema.fbs (field ids below, checked against TensorFlow's generated schema by
tests/runtime/test_validate.py), and refuses a file whose references leave the buffer or whose indices
leave their tables.
"""

from __future__ import annotations

import struct
from pathlib import Path

from sqz.errors import ModelFileError

IDENTIFIER = b"TFL3"
# schema.fbs field ids (a union takes two ids: its type, then its value)
MODEL_OPCODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION, MODEL_BUFFERS, MODEL_METADATA_BUFFER = 1, 2, 3, 4, 5
MODEL_METADATA, MODEL_SIGNATURES = 6, 7
SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS, SUBGRAPH_NAME = 0, 1, 2, 3, 4
TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME, TENSOR_QUANT, TENSOR_SPARSITY = 0, 1, 2, 3, 4, 6
TENSOR_SHAPE_SIGNATURE = 7
OP_OPCODE, OP_INPUTS, OP_OUTPUTS, OP_OPTIONS, OP_CUSTOM, OP_INTERMEDIATES = 0, 1, 2, 4, 5, 8
OP_LARGE_CUSTOM_OFFSET, OP_LARGE_CUSTOM_SIZE, OP_OPTIONS_2 = 9, 10, 12
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2
QUANT_MIN, QUANT_MAX, QUANT_SCALE, QUANT_ZERO, QUANT_DIM = 0, 1, 2, 3, 6
METADATA_NAME, METADATA_BUFFER = 0, 1
SIGNATURE_INPUTS, SIGNATURE_OUTPUTS, SIGNATURE_KEY, SIGNATURE_SUBGRAPH = 0, 1, 2, 4
TENSORMAP_NAME, TENSORMAP_INDEX = 0, 1
# TensorType → bytes per element (None: variable size, not checked against the shape)
ELEMENT_BYTES = {
    0: 4,
    1: 2,
    2: 4,
    3: 1,
    4: 8,
    5: None,
    6: 1,
    7: 2,
    8: 8,
    9: 1,
    10: 8,
    11: 16,
    12: 8,
    13: None,
    14: None,
    15: 4,
    16: 2,
    17: 0.5,
    18: 2,
    19: 0.25,
}
MAX_ELEMENTS = 1 << 40
MAX_MODEL_BYTES = 1 << 31  # a flatbuffer or protobuf cannot address more


class _Flatbuffer:
    """Bounds-checked reads of flatbuffers tables, vectors and strings in one buffer."""

    def __init__(self, buf: bytes, path) -> None:
        self.buf, self.size, self.path = buf, len(buf), path

    def fail(self, what: str):
        raise ModelFileError(f"{self.path}: not a valid TFLite model ({what})")

    def read(self, fmt: str, pos: int, what: str):
        if pos < 0 or pos + struct.calcsize(fmt) > self.size:
            self.fail(f"{what} lies outside the file")
        return struct.unpack_from(fmt, self.buf, pos)[0]

    def table(self, pos: int, what: str) -> tuple[int, list[int], int]:
        """(table position, field offsets, inline size) of the table at `pos`."""
        vt = pos - self.read("<i", pos, what)
        vt_size = self.read("<H", vt, f"{what} vtable")
        inline = self.read("<H", vt + 2, f"{what} vtable")
        if vt_size < 4 or vt_size % 2 or vt + vt_size > self.size or pos + inline > self.size or inline < 4:
            self.fail(f"{what} has a malformed vtable")
        fields = list(struct.unpack_from(f"<{(vt_size - 4) // 2}H", self.buf, vt + 4))
        return pos, fields, inline

    def field(self, t: tuple, fid: int, width: int, what: str) -> int | None:
        pos, fields, inline = t
        if fid >= len(fields) or fields[fid] == 0:
            return None
        if fields[fid] + width > inline:
            self.fail(f"{what} overruns its table")
        return pos + fields[fid]

    def scalar(self, t: tuple, fid: int, fmt: str, default, what: str):
        at = self.field(t, fid, struct.calcsize(fmt), what)
        return default if at is None else self.read(fmt, at, what)

    def ref(self, t: tuple, fid: int, what: str) -> int | None:
        at = self.field(t, fid, 4, what)
        return None if at is None else at + self.read("<I", at, what)

    def vector(self, t: tuple, fid: int, elem: int, what: str) -> tuple[int, int]:
        """(first element position, length); (0, 0) when absent."""
        at = self.ref(t, fid, what)
        if at is None:
            return 0, 0
        n = self.read("<I", at, f"{what} length")
        if at + 4 + n * elem > self.size:
            self.fail(f"{what} ({n} elements) runs past the end of the file")
        return at + 4, n

    def ints(self, t: tuple, fid: int, fmt: str, what: str) -> list[int]:
        start, n = self.vector(t, fid, struct.calcsize(fmt), what)
        return list(struct.unpack_from(f"<{n}{fmt[-1]}", self.buf, start)) if n else []

    def tables(self, t: tuple, fid: int, what: str) -> list[tuple]:
        start, n = self.vector(t, fid, 4, what)
        return [self.table(start + 4 * i + self.read("<I", start + 4 * i, what), f"{what}[{i}]") for i in range(n)]

    def string(self, t: tuple, fid: int, what: str) -> None:
        start, n = self.vector(t, fid, 1, what)
        if n and self.read("<B", start + n, f"{what} terminator") != 0:
            self.fail(f"{what} is not a terminated string")


def tflite(buf: bytes, path="model") -> dict:
    """Raise ModelFileError unless `buf` is a structurally sound TFLite model; returns a few counts."""
    fb = _Flatbuffer(buf, path)
    if len(buf) < 8 or buf[4:8] != IDENTIFIER:
        fb.fail("no TFL3 identifier")
    model = fb.table(fb.read("<I", 0, "root offset"), "model")
    codes = fb.tables(model, MODEL_OPCODES, "operator_codes")
    buffers = fb.tables(model, MODEL_BUFFERS, "buffers")
    sizes = [_buffer_bytes(fb, b, i) for i, b in enumerate(buffers)]
    subgraphs = fb.tables(model, MODEL_SUBGRAPHS, "subgraphs")
    if not subgraphs:
        fb.fail("no subgraphs")
    fb.string(model, MODEL_DESCRIPTION, "description")
    for i in fb.ints(model, MODEL_METADATA_BUFFER, "<i", "metadata_buffer"):
        _index(fb, i, len(buffers), "metadata_buffer entry", "buffers")
    for i, md in enumerate(fb.tables(model, MODEL_METADATA, "metadata")):
        fb.string(md, METADATA_NAME, f"metadata[{i}].name")
        _index(
            fb,
            fb.scalar(md, METADATA_BUFFER, "<I", 0, "metadata buffer"),
            len(buffers),
            f"metadata[{i}].buffer",
            "buffers",
        )
    counts = [_subgraph(fb, sg, s, len(codes), sizes) for s, sg in enumerate(subgraphs)]
    for i, sig in enumerate(fb.tables(model, MODEL_SIGNATURES, "signature_defs")):
        s = fb.scalar(sig, SIGNATURE_SUBGRAPH, "<I", 0, "signature subgraph_index")
        _index(fb, s, len(subgraphs), f"signature_defs[{i}].subgraph_index", "subgraphs")
        fb.string(sig, SIGNATURE_KEY, f"signature_defs[{i}].signature_key")
        for fid in (SIGNATURE_INPUTS, SIGNATURE_OUTPUTS):
            for m in fb.tables(sig, fid, f"signature_defs[{i}] tensor map"):
                fb.string(m, TENSORMAP_NAME, "signature tensor name")
                _index(
                    fb,
                    fb.scalar(m, TENSORMAP_INDEX, "<I", 0, "signature tensor_index"),
                    counts[s][0],
                    f"signature_defs[{i}] tensor_index",
                    "tensors",
                )
    return {
        "subgraphs": len(subgraphs),
        "tensors": sum(c[0] for c in counts),
        "operators": sum(c[1] for c in counts),
        "buffers": len(buffers),
        "operator_codes": len(codes),
    }


def _index(fb: _Flatbuffer, i: int, n: int, what: str, table: str, optional: bool = False) -> None:
    if not (0 <= i < n or (optional and i == -1)):
        fb.fail(f"{what} {i} is outside {table} (0..{n - 1})")


def _buffer_bytes(fb: _Flatbuffer, b: tuple, i: int) -> int:
    """Bytes a buffer holds, in the flatbuffer or (large models) after it at `offset`."""
    _, n = fb.vector(b, BUFFER_DATA, 1, f"buffers[{i}].data")
    offset = fb.scalar(b, BUFFER_OFFSET, "<Q", 0, f"buffers[{i}].offset")
    size = fb.scalar(b, BUFFER_SIZE, "<Q", 0, f"buffers[{i}].size")
    if offset > 1:
        if offset + size > fb.size:
            fb.fail(f"buffers[{i}] points at bytes {offset}..{offset + size} past the end of the file")
        return size
    return n


def _subgraph(fb: _Flatbuffer, sg: tuple, s: int, n_codes: int, sizes: list[int]) -> tuple[int, int]:
    where = f"subgraphs[{s}]"
    tensors = fb.tables(sg, SUBGRAPH_TENSORS, f"{where}.tensors")
    n = len(tensors)
    for t, tensor in enumerate(tensors):
        _tensor(fb, tensor, f"{where}.tensors[{t}]", sizes)
    for fid, name in ((SUBGRAPH_INPUTS, "inputs"), (SUBGRAPH_OUTPUTS, "outputs")):
        for i in fb.ints(sg, fid, "<i", f"{where}.{name}"):
            _index(fb, i, n, f"{where}.{name} entry", "tensors")
    fb.string(sg, SUBGRAPH_NAME, f"{where}.name")
    ops = fb.tables(sg, SUBGRAPH_OPERATORS, f"{where}.operators")
    for o, op in enumerate(ops):
        w = f"{where}.operators[{o}]"
        _index(
            fb, fb.scalar(op, OP_OPCODE, "<I", 0, f"{w}.opcode_index"), n_codes, f"{w}.opcode_index", "operator_codes"
        )
        for i in fb.ints(op, OP_INPUTS, "<i", f"{w}.inputs"):
            _index(fb, i, n, f"{w} input", "tensors", optional=True)
        for i in fb.ints(op, OP_OUTPUTS, "<i", f"{w}.outputs"):
            _index(fb, i, n, f"{w} output", "tensors")
        for i in fb.ints(op, OP_INTERMEDIATES, "<i", f"{w}.intermediates"):
            _index(fb, i, n, f"{w} intermediate", "tensors")
        for fid in (OP_OPTIONS, OP_OPTIONS_2):
            at = fb.ref(op, fid, f"{w}.builtin_options")
            if at is not None:
                fb.table(at, f"{w}.builtin_options")
        fb.vector(op, OP_CUSTOM, 1, f"{w}.custom_options")
        off = fb.scalar(op, OP_LARGE_CUSTOM_OFFSET, "<Q", 0, f"{w}.large_custom_options_offset")
        size = fb.scalar(op, OP_LARGE_CUSTOM_SIZE, "<Q", 0, f"{w}.large_custom_options_size")
        if off > 1 and off + size > fb.size:
            fb.fail(f"{w} custom options lie past the end of the file")
    return n, len(ops)


def _tensor(fb: _Flatbuffer, t: tuple, where: str, sizes: list[int]) -> None:
    shape = fb.ints(t, TENSOR_SHAPE, "<i", f"{where}.shape")
    fb.ints(t, TENSOR_SHAPE_SIGNATURE, "<i", f"{where}.shape_signature")
    dtype = fb.scalar(t, TENSOR_TYPE, "<b", 0, f"{where}.type")
    if dtype not in ELEMENT_BYTES:
        fb.fail(f"{where} has unknown type {dtype}")
    b = fb.scalar(t, TENSOR_BUFFER, "<I", 0, f"{where}.buffer")
    _index(fb, b, len(sizes), f"{where}.buffer", "buffers")
    fb.string(t, TENSOR_NAME, f"{where}.name")
    q = fb.ref(t, TENSOR_QUANT, f"{where}.quantization")
    if q is not None:
        qt = fb.table(q, f"{where}.quantization")
        for fid, name in ((QUANT_MIN, "min"), (QUANT_MAX, "max")):
            fb.vector(qt, fid, 4, f"{where}.quantization.{name}")
        _, n_scale = fb.vector(qt, QUANT_SCALE, 4, f"{where}.quantization.scale")
        _, n_zero = fb.vector(qt, QUANT_ZERO, 8, f"{where}.quantization.zero_point")
        dim = fb.scalar(qt, QUANT_DIM, "<i", 0, f"{where}.quantization.quantized_dimension")
        if n_scale > 1 and not (0 <= dim < len(shape) and shape[dim] == n_scale):
            fb.fail(f"{where} has {n_scale} per-channel scales for dimension {dim} of shape {shape}")
        if n_zero and n_scale and n_zero != n_scale:
            fb.fail(f"{where} has {n_scale} scales but {n_zero} zero points")
    if sizes[b] and fb.ref(t, TENSOR_SPARSITY, f"{where}.sparsity") is None and ELEMENT_BYTES[dtype]:
        if any(d < 0 for d in shape):
            fb.fail(f"{where} holds data but has a dynamic shape {shape}")
        count = 1
        for d in shape:
            count = min(count * d, MAX_ELEMENTS)
        want = -(-count * int(4 * ELEMENT_BYTES[dtype]) // 4)
        if sizes[b] != want:
            fb.fail(f"{where} is {shape} of type {dtype} ({want} bytes) but its buffer holds {sizes[b]} bytes")


def check_size(path: Path) -> None:
    """Refuse, unread, a file too large to be a flatbuffer or protobuf."""
    size = Path(path).stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(f"{path}: {size:,} bytes is larger than any TFLite or ONNX file can be (2 GiB)")


def read_model(path: Path) -> bytes:
    """A model file's bytes, after `check_size`."""
    check_size(path)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read it ({exc.strerror})") from None


def tflite_file(path: Path) -> dict:
    """`tflite()` on a file's bytes."""
    return tflite(read_model(path), path)

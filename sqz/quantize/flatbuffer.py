"""Write a float or quantised graph as a TFLite flatbuffer: only what interpreters read (no names, metadata or
signatures). The schema's object API comes from ai-edge-litert, the board interpreter sqz already depends on.

Tensors: the input, then per operator its constants and its output. Activations share the empty buffer 0; each
constant has its own buffer. An operator the writer does not know is refused, never written approximately.
"""

from __future__ import annotations

import math

import numpy as np

from sqz.errors import ToolError
from sqz.quantize.floatgraph import FloatGraph
from sqz.quantize.graph import Op
from sqz.quantize.qgraph import QuantGraph

# kind → (builtin operator, version for float32, version for int8)
OPERATORS = {
    "conv": ("CONV_2D", 1, 3),
    "maxpool": ("MAX_POOL_2D", 1, 2),
    "concat": ("CONCATENATION", 1, 2),
    "add": ("ADD", 1, 2),
    "mean": ("MEAN", 1, 2),
    "reshape": ("RESHAPE", 1, 1),
    "pad": ("PAD", 1, 2),
}
INT4_CONV_VERSION = 7
TYPES = {"float32": "FLOAT32", "int32": "INT32", "int8": "INT8", "int4": "INT4"}
_PAD = {"same": 0, "valid": 1}


class UnknownOperator(ToolError):
    """The graph holds an operator the writer cannot express."""


def schema():
    """The generated TFLite schema (object API) shipped in ai-edge-litert."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        raise ToolError("writing .tflite needs ai-edge-litert's schema; pip install 'sqz[export]'") from None
    return schema_py_generated


def _options(s, op: Op):
    """(BuiltinOptions type, options object) of `op`."""
    if op.kind == "conv":
        o = s.Conv2DOptionsT()
        o.padding, o.strideW, o.strideH = _PAD[op.options["padding"]], op.options["stride"], op.options["stride"]
        o.dilationWFactor = o.dilationHFactor = 1
        o.fusedActivationFunction = s.ActivationFunctionType.RELU
        return s.BuiltinOptions.Conv2DOptions, o
    if op.kind == "maxpool":
        o = s.Pool2DOptionsT()
        o.padding, o.strideW, o.strideH, o.filterWidth, o.filterHeight = _PAD[op.options["padding"]], 2, 2, 3, 3
        return s.BuiltinOptions.Pool2DOptions, o
    if op.kind == "concat":
        o = s.ConcatenationOptionsT()
        o.axis = op.options["axis"]
        return s.BuiltinOptions.ConcatenationOptions, o
    if op.kind == "add":
        return s.BuiltinOptions.AddOptions, s.AddOptionsT()
    if op.kind == "pad":
        return s.BuiltinOptions.PadOptions, s.PadOptionsT()
    if op.kind == "mean":
        o = s.ReducerOptionsT()
        o.keepDims = True
        return s.BuiltinOptions.ReducerOptions, o
    return s.BuiltinOptions.NONE, None


class _Builder:
    """Tensors and buffers of one subgraph as they are added."""

    def __init__(self, s) -> None:
        self.s, self.tensors, self.buffers = s, [], [s.BufferT()]

    def tensor(self, shape, dtype: str, data: np.ndarray | None = None, scale=None, zero=None) -> int:
        t = self.s.TensorT()
        t.shape, t.type = np.array(shape, np.int32), getattr(self.s.TensorType, TYPES[dtype])
        t.buffer = 0
        if data is not None:
            b = self.s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = self.s.QuantizationParametersT()
            q.scale = np.asarray(scale, np.float64).astype(np.float32).reshape(-1)
            q.zeroPoint = np.asarray(zero, np.int64).reshape(-1)
            q.quantizedDimension = 0
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1


def _constants(b: _Builder, op: Op, n: int, fg: FloatGraph, qg: QuantGraph | None) -> list[int]:
    """The constant input tensors of op `n`: filter and bias, paddings, axes or shape."""
    if op.kind == "conv":
        c = fg.convs[n]
        if qg is None:
            return [b.tensor(c.weight.shape, "float32", c.weight), b.tensor(c.bias.shape, "float32", c.bias)]
        q = qg.convs[n]
        zeros = np.zeros(len(q.weight_scales), np.int64)
        values = pack_nibbles(q.weight) if q.bits == 4 else q.weight
        return [
            b.tensor(q.weight.shape, "int4" if q.bits == 4 else "int8", values, q.weight_scales, zeros),
            b.tensor(q.bias.shape, "int32", q.bias, q.bias_scales, zeros),
        ]
    if op.kind == "pad":
        src = fg.ops[op.inputs[0]].out if op.inputs[0] >= 0 else fg.input_shape
        after = [o - i for o, i in zip(op.out, src)]
        return [b.tensor((4, 2), "int32", np.array([[0, a] for a in after], np.int32))]
    if op.kind == "mean":
        return [b.tensor((2,), "int32", np.array([1, 2], np.int32))]
    if op.kind == "reshape":
        return [b.tensor((len(op.out),), "int32", np.array([-1, *op.out[1:]], np.int32))]
    return []


def model(fg: FloatGraph, qg: QuantGraph | None = None):
    """The schema ModelT of `fg` in float32, or of its quantised graph `qg` in int8."""
    s = schema()
    b = _Builder(s)
    dtype = "float32" if qg is None else "int8"
    act = (lambda t: {}) if qg is None else (lambda t: {"scale": [qg.acts[t].scale], "zero": [qg.acts[t].zero_point]})
    out_ids = {-1: b.tensor(fg.input_shape, dtype, **act(-1))}
    codes: dict[tuple[str, int], int] = {}
    operators = []
    for n, op in enumerate(fg.ops):
        if op.kind not in OPERATORS:
            raise UnknownOperator(f"the .tflite writer does not know operator {op.kind!r}; nothing was written")
        name, v_float, v_int8 = OPERATORS[op.kind]
        version = (
            v_float if qg is None else INT4_CONV_VERSION if op.kind == "conv" and qg.convs[n].bits == 4 else v_int8
        )
        consts = _constants(b, op, n, fg, qg)
        out_ids[n] = b.tensor(op.out, dtype, **act(n))
        o = s.OperatorT()
        o.opcodeIndex = codes.setdefault((name, version), len(codes))
        o.inputs = np.array([out_ids[i] for i in op.inputs] + consts, np.int32)
        o.outputs = np.array([out_ids[n]], np.int32)
        o.builtinOptionsType, o.builtinOptions = _options(s, op)
        operators.append(o)
    opcodes = []
    for name, version in codes:
        c = s.OperatorCodeT()
        c.builtinCode = c.deprecatedBuiltinCode = getattr(s.BuiltinOperator, name)
        c.version = version
        opcodes.append(c)
    sg = s.SubGraphT()
    sg.tensors, sg.operators = b.tensors, operators
    sg.inputs, sg.outputs = np.array([out_ids[-1]], np.int32), np.array([out_ids[len(fg.ops) - 1]], np.int32)
    m = s.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, opcodes, [sg], b.buffers
    return m


def serialise(fg: FloatGraph, qg: QuantGraph | None = None) -> bytes:
    """The .tflite bytes of `fg` (float32) or of `qg` (int8 with INT4 where its convs say so)."""
    import flatbuffers

    m = model(fg, qg)
    weights = sum(math.prod(t.shape) for t in m.subgraphs[0].tensors if t.buffer)
    builder = flatbuffers.Builder(4 * weights + 65536)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def pack_nibbles(q: np.ndarray) -> np.ndarray:
    """Signed 4-bit values, flattened row-major, two per byte, low nibble first (an odd count padded with 0)."""
    flat = q.astype(np.int8).reshape(-1)
    if flat.size % 2:
        flat = np.append(flat, np.int8(0))
    nib = flat.astype(np.uint8) & 0x0F
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)

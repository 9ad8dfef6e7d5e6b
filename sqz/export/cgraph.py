"""Read a full-int8 .tflite into what the C generator needs: ops in order, tensor shapes and quantisation, and
each op's integer constants computed exactly as TFLite's kernels compute them at Prepare.

Supported: the operators sqz writes (CONV_2D with int8 or INT4 weights, MAX_POOL_2D, CONCATENATION on the last
axis, ADD, MEAN over height and width, RESHAPE, PAD); anything else is refused in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sqz.errors import ModelFileError
from sqz.export.requant import quantize_multiplier

INT8_MIN, INT8_MAX = -128, 127
ADD_LEFT_SHIFT = 20


class UnsupportedModel(ModelFileError):
    """A .tflite the C generator cannot compile exactly (an op, type or option it does not implement)."""


@dataclass(frozen=True)
class Tensor:
    """An int8 activation: NHWC shape (batch 1), scale and zero point."""

    shape: tuple[int, ...]
    scale: float
    zero: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def hwc(self) -> tuple[int, int, int]:
        s = (1, 1, 1, *self.shape[1:]) if len(self.shape) < 4 else self.shape
        return int(s[-3]), int(s[-2]), int(s[-1])


@dataclass
class COp:
    """One operator: kind, activation input tensor ids, output tensor id, integer parameters."""

    kind: str
    inputs: list[int]
    output: int
    params: dict = field(default_factory=dict)


@dataclass
class CModel:
    """The whole graph: activations by tensor id, ops in execution order, the graph input and output."""

    tensors: dict[int, Tensor]
    ops: list[COp]
    input: int
    output: int

    def macs(self) -> int:
        """Multiply-accumulates of one inference (the convolutions')."""
        total = 0
        for op in self.ops:
            if op.kind == "conv":
                oh, ow, oc = self.tensors[op.output].hwc
                total += oh * ow * int(np.prod(op.params["weight"].shape))
        return total


def _schema():
    from sqz.quantize.flatbuffer import schema

    return schema()


def _unpack_int4(raw: np.ndarray, count: int) -> np.ndarray:
    """Signed 4-bit values, two per byte, low nibble first → int8."""
    lo, hi = raw & 0x0F, raw >> 4
    nib = np.stack([lo, hi], 1).reshape(-1)[:count].astype(np.int16)
    return np.where(nib > 7, nib - 16, nib).astype(np.int8)


def _activation(fused: int, out: Tensor, s) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for NONE and RELU."""
    if fused == s.ActivationFunctionType.NONE:
        return INT8_MIN, INT8_MAX
    if fused == s.ActivationFunctionType.RELU:
        return max(INT8_MIN, out.zero), INT8_MAX
    raise UnsupportedModel(f"fused activation {fused} is not supported by the C generator (NONE or RELU)")


def _same_padding(size: int, k: int, stride: int, out: int) -> int:
    """The top (or left) padding TFLite's SAME padding puts before the map."""
    return max((out - 1) * stride + k - size, 0) // 2


class _Reader:
    """The flatbuffer's subgraph with typed accessors."""

    def __init__(self, content: bytes) -> None:
        self.s = s = _schema()
        try:
            self.m = s.ModelT.InitFromPackedBuf(content, 0)
        except Exception as e:  # a malformed flatbuffer raises anything from struct to index errors
            raise ModelFileError(f"not a readable .tflite flatbuffer ({type(e).__name__})") from None
        if len(self.m.subgraphs) != 1:
            raise UnsupportedModel(f"the C generator compiles one subgraph, this model has {len(self.m.subgraphs)}")
        self.g = self.m.subgraphs[0]
        self.names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
        self.types = {v: k for k, v in vars(s.TensorType).items() if not k.startswith("_")}

    def opname(self, op) -> str:
        c = self.m.operatorCodes[op.opcodeIndex]
        return self.names.get(max(c.builtinCode, c.deprecatedBuiltinCode), "CUSTOM")

    def data(self, t: int) -> np.ndarray:
        b = self.m.buffers[self.g.tensors[t].buffer]
        if b.data is None:
            raise UnsupportedModel(f"tensor {t} has no inline data (weights stored by offset); re-export with sqz")
        return np.asarray(b.data, np.uint8)

    def const(self, t: int, dtype) -> np.ndarray:
        shape = tuple(int(d) for d in self.g.tensors[t].shape)
        return self.data(t).view(dtype).reshape(shape)

    def tensor(self, t: int) -> Tensor:
        x = self.g.tensors[t]
        if self.types.get(x.type) != "INT8":
            raise UnsupportedModel(
                f"activation tensor {t} is {self.types.get(x.type, x.type)}; the C generator "
                "compiles full-int8 models (int8 input and output); use model_int8.tflite"
            )
        q = x.quantization
        if q is None or q.scale is None or len(q.scale) != 1:
            raise UnsupportedModel(f"activation tensor {t} has no per-tensor int8 quantisation")
        return Tensor(tuple(int(d) for d in x.shape), float(np.float32(q.scale[0])), int(q.zeroPoint[0]))

    def scales(self, t: int) -> np.ndarray:
        return np.asarray(self.g.tensors[t].quantization.scale, np.float32)


def _conv(r: _Reader, op, t: dict[int, Tensor]) -> dict:
    s = r.s
    o = op.builtinOptions
    x, out = t[op.inputs[0]], t[op.outputs[0]]
    wt = r.g.tensors[op.inputs[1]]
    kind = r.types.get(wt.type)
    shape = tuple(int(d) for d in wt.shape)
    if kind == "INT8":
        w = r.const(op.inputs[1], np.int8)
    elif kind == "INT4":
        w = _unpack_int4(r.data(op.inputs[1]), int(np.prod(shape))).reshape(shape)
    else:
        raise UnsupportedModel(f"CONV_2D weights of type {kind}; the C generator compiles int8 or INT4 weights")
    if o.dilationHFactor != 1 or o.dilationWFactor != 1:
        raise UnsupportedModel("dilated CONV_2D is not supported by the C generator")
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        bias = np.zeros(shape[0], np.int32)
    else:
        bias = r.const(op.inputs[2], np.int32).reshape(-1)
    ih, iw, _ = x.hwc
    oh, ow, _ = out.hwc
    _, kh, kw, _ = shape
    same = o.padding == s.Padding.SAME
    ws = np.broadcast_to(r.scales(op.inputs[1]), (shape[0],))
    mults = [
        quantize_multiplier(float(np.float64(x.scale) * np.float64(w_s) / np.float64(out.scale)))
        for w_s in ws.astype(np.float64)
    ]
    lo, hi = _activation(o.fusedActivationFunction, out, s)
    return {
        "weight": np.ascontiguousarray(w),
        "bias": bias.astype(np.int32),
        "stride": (o.strideH, o.strideW),
        "pad": (
            _same_padding(ih, kh, o.strideH, oh) if same else 0,
            _same_padding(iw, kw, o.strideW, ow) if same else 0,
        ),
        "multiplier": np.array([m for m, _ in mults], np.int32),
        "shift": np.array([sh for _, sh in mults], np.int32),
        "act": (lo, hi),
    }


def _pool(r: _Reader, op, t: dict[int, Tensor]) -> dict:
    o = op.builtinOptions
    x, out = t[op.inputs[0]], t[op.outputs[0]]
    if (x.scale, x.zero) != (out.scale, out.zero):
        raise UnsupportedModel("MAX_POOL_2D with different input and output quantisation")
    ih, iw, _ = x.hwc
    oh, ow, _ = out.hwc
    same = o.padding == r.s.Padding.SAME
    return {
        "filter": (o.filterHeight, o.filterWidth),
        "stride": (o.strideH, o.strideW),
        "pad": (
            _same_padding(ih, o.filterHeight, o.strideH, oh) if same else 0,
            _same_padding(iw, o.filterWidth, o.strideW, ow) if same else 0,
        ),
        "act": _activation(o.fusedActivationFunction, out, r.s),
    }


def _add(r: _Reader, op, t: dict[int, Tensor]) -> dict:
    a, b, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    if a.shape != b.shape:
        raise UnsupportedModel("ADD with broadcasting is not supported by the C generator")
    twice = 2.0 * float(max(np.float32(a.scale), np.float32(b.scale)))
    out_real = twice / float(np.float32((1 << ADD_LEFT_SHIFT) * np.float32(out.scale)))
    return {
        "a": quantize_multiplier(a.scale / twice),
        "b": quantize_multiplier(b.scale / twice),
        "out": quantize_multiplier(out_real),
        "act": _activation(op.builtinOptions.fusedActivationFunction if op.builtinOptions else 0, out, r.s),
    }


def _mean(r: _Reader, op, t: dict[int, Tensor]) -> dict:
    axes = sorted(int(v) for v in r.const(op.inputs[1], np.int32).reshape(-1))
    x, out = t[op.inputs[0]], t[op.outputs[0]]
    if axes != [1, 2] or len(x.shape) != 4 or not op.builtinOptions.keepDims:
        raise UnsupportedModel(
            f"MEAN over axes {axes} is not supported by the C generator (height and width, keep_dims)"
        )
    mult, shift = quantize_multiplier(float(np.float64(x.scale) / np.float64(out.scale)))
    n = x.hwc[0] * x.hwc[1]
    k = min(n.bit_length() - 1, 32, 31 + shift)  # 1/n folded into the multiplier, as TFLite's reference MEAN
    return {"mul": ((mult << k) // n, shift - k)}


def _pad(r: _Reader, op, t: dict[int, Tensor]) -> dict:
    p = r.const(op.inputs[1], np.int32).reshape(-1, 2)
    x, out = t[op.inputs[0]], t[op.outputs[0]]
    if len(p) != 4 or p[0].any() or p[3].any() or len(op.inputs) > 2:
        raise UnsupportedModel("PAD of the batch or channel axis, or with a constant value, is not supported")
    if (x.scale, x.zero) != (out.scale, out.zero):
        raise UnsupportedModel("PAD with different input and output quantisation")
    return {"top": int(p[1][0]), "left": int(p[2][0]), "value": out.zero}


def _concat(r: _Reader, op, t: dict[int, Tensor]) -> dict:
    out = t[op.outputs[0]]
    axis = op.builtinOptions.axis
    if axis not in (-1, len(out.shape) - 1):
        raise UnsupportedModel(f"CONCATENATION on axis {axis} is not supported (the channel axis only)")
    if any((t[i].scale, t[i].zero) != (out.scale, out.zero) for i in op.inputs):
        raise UnsupportedModel("CONCATENATION of inputs quantised differently from its output is not supported")
    return {}


READERS = {
    "CONV_2D": ("conv", _conv),
    "MAX_POOL_2D": ("maxpool", _pool),
    "ADD": ("add", _add),
    "MEAN": ("mean", _mean),
    "PAD": ("pad", _pad),
    "CONCATENATION": ("concat", _concat),
    "RESHAPE": ("reshape", lambda r, op, t: {}),
}
ACTIVATION_INPUTS = {"conv": 1, "maxpool": 1, "add": 2, "mean": 1, "pad": 1, "concat": None, "reshape": 1}


def read(content: bytes) -> CModel:
    """The C-ready graph of a full-int8 .tflite, or UnsupportedModel naming what the generator lacks."""
    r = _Reader(content)
    g = r.g
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise UnsupportedModel("the C generator compiles models with one input and one output")
    tensors: dict[int, Tensor] = {int(g.inputs[0]): r.tensor(int(g.inputs[0]))}
    ops = []
    for op in g.operators:
        name = r.opname(op)
        if name not in READERS:
            raise UnsupportedModel(
                f"operator {name} is not supported by the C generator (it compiles {', '.join(READERS)})"
            )
        kind, reader = READERS[name]
        n_act = ACTIVATION_INPUTS[kind]
        acts = [int(i) for i in (op.inputs if n_act is None else op.inputs[:n_act])]
        missing = [i for i in acts if i not in tensors]
        if missing:
            raise UnsupportedModel(f"{name} reads tensor {missing[0]} before any op writes it")
        tensors[int(op.outputs[0])] = r.tensor(int(op.outputs[0]))
        ops.append(COp(kind, acts, int(op.outputs[0]), reader(r, op, tensors)))
    if any(len(x.shape) == 4 and x.shape[0] != 1 for x in tensors.values()):
        raise UnsupportedModel("the C generator compiles batch-1 models")
    return CModel(tensors, ops, int(g.inputs[0]), int(g.outputs[0]))

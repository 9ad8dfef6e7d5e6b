"""File bytes of the full-int8 .tflite sqz-export would write, before anything is trained.

The file is rebuilt analytically: the same tensors, operators, quantisation parameters, buffers, metadata and
signature as onnx2tf's stripped output, serialised with the same flatbuffer builder as `strip`, so the
prediction is the byte count itself, not a fit. Weight values do not change the size, except that the
converter stores identical constant tensors once (a trained model has none).
"""

from __future__ import annotations

import math

import numpy as np

from sqz.errors import ToolError
from sqz.quantize import graph as graph_mod
from sqz.train.model import ArchConfig

INPUT_NAME, OUTPUT_NAME = b"serving_default_input:0", b"PartitionedCall:0"
OPCODES = {"conv": (3, 3), "maxpool": (17, 2), "concat": (2, 2), "add": (0, 2), "reshape": (22, 1), "mean": (40, 2),
           "pad": (34, 2)}
MIN_RUNTIME = b"1.14.0".ljust(16, b"\0")
STRIPPED_METADATA_BUFFERS = 2
_PAD = {"same": 0, "valid": 1}


def _schema():
    try:
        from sqz.export.strip import tflite_schema

        return tflite_schema()
    except ImportError as exc:
        raise ToolError(f"predicting .tflite bytes needs the export tools ({exc}); pip install 'sqz[export]'") from None


def _options(s, op: graph_mod.Op):
    """(BuiltinOptions type, options object) as onnx2tf writes them for `op`."""
    if op.kind == "conv":
        o = s.Conv2DOptionsT()
        o.padding, o.strideW, o.strideH = _PAD[op.options["padding"]], op.options["stride"], op.options["stride"]
        o.fusedActivationFunction = 1
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
    return 0, None


def _tensor(s, shape, dtype: str, buffer: int, channels: int = 0, name: bytes = b""):
    t = s.TensorT()
    t.shape, t.type, t.buffer, t.name = np.array(shape, np.int32), {"int8": 9, "int32": 2}[dtype], buffer, name
    t.hasRank = True
    q = s.QuantizationParametersT()
    if channels:
        q.scale, q.zeroPoint = np.zeros(channels, np.float32), np.zeros(channels, np.int64)
    t.quantization = q
    return t


def model_t(graph: list[graph_mod.Op], size: int):
    """The flatbuffer object tree (schema ModelT) of the stripped full-int8 file for `graph`."""
    s = _schema()
    tensors, datas, const_ids = [], [], {}
    tensors.append(_tensor(s, (1, size, size, graph[0].consts[0][0][3]), "int8", 1, 1, INPUT_NAME))
    datas.append(None)
    pads = [n for n, op in enumerate(graph) if op.kind == "pad"]
    if pads:
        # the paddings of every PAD are equal (bottom and right by 1): onnx2tf puts them first, as one tensor
        tensors.append(_tensor(s, (4, 2), "int32", 2))
        datas.append(np.zeros(32, np.uint8))
    for n in pads:
        const_ids[(n, 0)] = 1
    for n in reversed(range(len(graph))):
        for j in reversed(range(len(graph[n].consts))):
            if graph[n].kind == "pad":
                continue
            shape, dtype = graph[n].consts[j]
            quant = shape[0] if graph[n].kind == "conv" else 0
            const_ids[(n, j)] = len(tensors)
            tensors.append(_tensor(s, shape, dtype, len(tensors) + 1, quant))
            datas.append(np.zeros(math.prod(shape) * (4 if dtype == "int32" else 1), np.uint8))
    out_ids = {}
    for n, op in enumerate(graph):
        out_ids[n] = len(tensors)
        name = OUTPUT_NAME if n == len(graph) - 1 else b""
        tensors.append(_tensor(s, op.out, "int8", len(tensors) + 1, 1, name))
        datas.append(None)
    kinds = list(dict.fromkeys(op.kind for op in graph))
    codes = []
    for kind in kinds:
        c = s.OperatorCodeT()
        c.builtinCode, c.version = OPCODES[kind]
        c.deprecatedBuiltinCode = c.builtinCode
        codes.append(c)
    operators = []
    for n, op in enumerate(graph):
        o = s.OperatorT()
        o.opcodeIndex = kinds.index(op.kind)
        ins = [0 if i < 0 else out_ids[i] for i in op.inputs] + [const_ids[(n, j)] for j in range(len(op.consts))]
        o.inputs, o.outputs = np.array(ins, np.int32), np.array([out_ids[n]], np.int32)
        o.builtinOptionsType, o.builtinOptions = _options(s, op)
        operators.append(o)
    sg = s.SubGraphT()
    sg.tensors, sg.operators, sg.name = tensors, operators, b"main"
    sg.inputs, sg.outputs = np.array([0], np.int32), np.array([len(tensors) - 1], np.int32)
    buffers = [s.BufferT()]
    for d in datas + [np.frombuffer(MIN_RUNTIME, np.uint8)] + [None] * STRIPPED_METADATA_BUFFERS:
        b = s.BufferT()
        b.data = d
        buffers.append(b)
    meta = s.MetadataT()
    meta.name, meta.buffer = b"min_runtime_version", len(datas) + 1
    sig = s.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = b"serving_default", 0
    sig.inputs, sig.outputs = [s.TensorMapT(), ], [s.TensorMapT()]
    sig.inputs[0].name, sig.inputs[0].tensorIndex = b"input", 0
    sig.outputs[0].name, sig.outputs[0].tensorIndex = b"output_0", len(tensors) - 1
    m = s.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.description = 3, codes, [sg], b""
    m.buffers, m.metadata, m.signatureDefs = buffers, [meta], [sig]
    return m


def serialised(graph: list[graph_mod.Op], size: int) -> bytes:
    """The stripped full-int8 file for `graph`, with zero weights: right in every byte count, not in values."""
    import flatbuffers

    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model_t(graph, size).Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def file_bytes(graph: list[graph_mod.Op], size: int) -> int:
    """The exact byte count of the serialised file for `graph`."""
    return len(serialised(graph, size))


def int4_bytes(graph: list[graph_mod.Op], size: int) -> int:
    """The exact byte count after `--weights int4` rewrites every CONV_2D filter to INT4."""
    from sqz.export.int4 import to_int4

    with np.errstate(divide="ignore", invalid="ignore"):
        return len(to_int4(serialised(graph, size)))


def breakdown(graph: list[graph_mod.Op], total: int) -> dict:
    """Where the bytes go: int8 weights, int32 biases, per-channel quantisation (a float32 scale and an int64
    zero point per output channel, for weights and again for biases), and the flatbuffer structure."""
    convs = [op for op in graph if op.kind == "conv"]
    weights = sum(math.prod(op.consts[0][0]) for op in convs)
    biases = 4 * sum(op.consts[1][0][0] for op in convs)
    quant = 2 * 12 * sum(op.consts[1][0][0] for op in convs) + 12 * (len(graph) + 1)
    return {"weights_int8": weights, "biases_int32": biases, "quantization": quant,
            "structure": total - weights - biases - quant}


def predict(cfg: ArchConfig, size: int, dead_taps: bool = True, weights: str = "int8") -> dict:
    """`{"file_bytes", "parameters", "dead_tap_fires", "breakdown"}` for `cfg` exported at a `size`² input;
    `weights` int4: the file with every conv filter in INT4 (`int8_file_bytes` beside it)."""
    graph = graph_mod.ops(cfg, size, dead_taps)
    total = file_bytes(graph, size)
    out = {"file_bytes": total, "parameters": graph_mod.parameters(graph),
           "dead_tap_fires": [i + 2 for i in graph_mod.dead_fires(cfg, size)] if dead_taps else [],
           "breakdown": breakdown(graph, total)}
    if weights == "int4":
        out.update(file_bytes=int4_bytes(graph, size), int8_file_bytes=total)
    elif weights != "int8":
        raise ValueError(f"weights {weights!r}: predicted for int8 or int4")
    return out

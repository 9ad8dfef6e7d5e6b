"""The INT4 flatbuffer pass: nibble packing, file size, and the file running in ai-edge-litert and TFLite Micro."""

import importlib.util

import numpy as np
import pytest

from sqz.export.int4 import INT4_CONV_VERSION, filters, pack_nibbles, quantize4, to_int4, unpack_nibbles
from sqz.export.strip import tflite_schema


def test_nibbles_are_packed_low_first_and_round_trip():
    assert pack_nibbles(np.array([1, -2, 7])) == bytes([0xE1, 0x07])
    q = np.random.default_rng(0).integers(-8, 8, 101).astype(np.int8)
    np.testing.assert_array_equal(unpack_nibbles(pack_nibbles(q), 101), q)


def test_rewrite_halves_the_conv_weights_and_runs(tiny_export, small_dataset):
    from sqz.runtime.tflite import TFLiteSession

    out, rep = tiny_export
    src = out / "model_int8.tflite"
    content = src.read_bytes()
    flt = filters(content)
    small = to_int4(content)
    conv_bytes = sum(f.size for f in flt)
    saved = len(content) - len(small)
    assert abs(saved - conv_bytes / 2) < 0.02 * conv_bytes, (saved, conv_bytes)

    s = tflite_schema()
    model = s.Model.GetRootAsModel(small, 0)
    sg = model.Subgraphs(0)
    kinds = [sg.Tensors(sg.Operators(i).Inputs(1)).Type() for i in range(sg.OperatorsLength())
             if model.OperatorCodes(sg.Operators(i).OpcodeIndex()).Version() == INT4_CONV_VERSION]
    assert kinds == [s.TensorType.INT4] * len(flt)
    first = next(i for i in range(sg.OperatorsLength())
                 if model.OperatorCodes(sg.Operators(i).OpcodeIndex()).Version() == INT4_CONV_VERSION)
    t = sg.Tensors(sg.Operators(first).Inputs(1))
    q, scale = quantize4(flt[0])
    np.testing.assert_array_equal(unpack_nibbles(model.Buffers(t.Buffer()).DataAsNumpy().tobytes(), q.size),
                                  q.reshape(-1))
    np.testing.assert_allclose(t.Quantization().ScaleAsNumpy(), scale, rtol=1e-6)

    path = out.parent / "int4_all.tflite"
    path.write_bytes(small)
    from sqz.runtime.preprocess import Preprocess, normalize

    x = normalize(small_dataset.test.x[:100], Preprocess.from_dict(rep["preprocess"]))
    z8 = TFLiteSession(src, interpreter="ai-edge-litert").run(x)
    z4 = TFLiteSession(path, interpreter="ai-edge-litert").run(x)
    assert (z4.argmax(1) == z8.argmax(1)).mean() >= 0.8  # naive rounding, no QAT: close to int8, not equal
    if importlib.util.find_spec("tflite_micro") is None:
        pytest.skip("tflite-micro not installed")
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from sqz.runtime.tflite import quantize_input
    from sqz.targets.micro import tflm

    ref = Interpreter(model_content=small, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    inp, outp = ref.get_input_details()[0], ref.get_output_details()[0]
    xq = quantize_input(x[:20].transpose(0, 2, 3, 1), inp)
    raw = []
    for img in xq:
        ref.set_tensor(inp["index"], img[None])
        ref.invoke()
        raw.append(ref.get_tensor(outp["index"])[0].copy())
    np.testing.assert_array_equal(tflm.outputs(small, xq), np.stack(raw))

"""The quantised graph: TFLite's int8 rules on small cases, and the bundled model's int8 file equal in every
weight, bias, scale and zero point to the one onnx2tf + TensorFlow wrote (tests/fixtures/README.md)."""

from pathlib import Path

import numpy as np
import pytest

from sqz.quantize import qgraph

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "onnx2tf_default_minmax_int8.tflite"


def test_activation_holds_zero_exactly_and_spans_the_range():
    for lo, hi in [(-0.81, 2.02), (0.0, 6.3), (0.5, 3.0), (-4.0, -1.0)]:
        a = qgraph.activation(lo, hi)
        assert -128 <= a.zero_point <= 127
        assert (-128 - a.zero_point) * a.scale <= min(lo, 0.0) + a.scale / 2  # the zero point is nudged to
        assert (127 - a.zero_point) * a.scale >= max(hi, 0.0) - a.scale / 2  # an integer: half a step at most
    assert qgraph.activation(0.0, 6.3).zero_point == -128  # a ReLU output
    assert qgraph.activation(0.0, 0.0) == qgraph.Activation(1.0, -128)  # never a zero scale


def test_weights_are_symmetric_per_channel_and_biases_follow_the_input_scale():
    w = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype(np.float32)
    w[2] = 0.0
    q, s = qgraph.weights(w)
    assert q.dtype == np.int8 and np.abs(q).max() == 127 and q.min() >= -127
    assert np.all(np.abs(q.reshape(4, -1)).max(1)[[0, 1, 3]] == 127) and not q[2].any()
    np.testing.assert_allclose(q * s.reshape(-1, 1, 1, 1), w, atol=s.max() / 2 + 1e-7)
    q4, s4 = qgraph.weights(w, 4)
    assert np.abs(q4).max() == 7
    b, bs = qgraph.bias(np.array([0.5, -0.25, 0.0, 1.0], np.float32), 0.02, s)
    assert b.dtype == np.int32 and bs.dtype == np.float32
    np.testing.assert_allclose(b * bs.astype(np.float64), [0.5, -0.25, 0.0, 1.0], atol=bs.max())


def test_same_scale_ops_share_their_owner():
    from sqz.quantize.floatgraph import placeholder
    from sqz.quantize.ranges import owners
    from sqz.train.arch import ArchConfig

    fg = placeholder(ArchConfig(num_classes=10, in_channels=1), 32)
    own = owners(fg)
    for i, op in enumerate(fg.ops):
        if op.kind in ("maxpool", "pad", "reshape"):
            assert own[i] == own[op.inputs[0]]
        if op.kind == "concat":
            assert all(own[j] == i for j in op.inputs)
    assert own[-1] == -1


def _per_op(content: bytes) -> list[list[tuple]]:
    """For each operator, each input and output tensor's (type, shape, data, scales, zero points)."""
    from sqz.quantize.flatbuffer import schema

    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(content, 0))
    sg = m.subgraphs[0]
    ops = []
    for op in sg.operators:
        rec = []
        for i in list(op.inputs) + list(op.outputs):
            t = sg.tensors[i]
            data = m.buffers[t.buffer].data if t.buffer else None
            q = t.quantization
            rec.append(
                (
                    t.type,
                    tuple(t.shape),
                    None if data is None or len(data) == 0 else bytes(np.asarray(data, np.uint8)),
                    None if q is None or q.scale is None else np.asarray(q.scale, np.float32).tobytes(),
                    None if q is None or q.zeroPoint is None else tuple(np.asarray(q.zeroPoint).tolist()),
                )
            )
        ops.append(rec)
    return ops


@pytest.mark.slow
def test_bundled_model_equals_the_onnx2tf_file_in_every_parameter(tmp_path):
    """`--ranges minmax`: same operators and every weight, bias, scale and zero point. What differs is only what
    interpreters never read: onnx2tf's tensor names, metadata and signature, and a buffer per activation."""
    from sqz.export.config import ExportConfig
    from sqz.export.pipeline import export
    from sqz.quantize.flatbuffer import schema

    rep = export(
        None, out=tmp_path, config=ExportConfig(int8=True, ranges="minmax", evaluate=False), log=lambda m: None
    )
    ours = (tmp_path / "model_int8.tflite").read_bytes()
    theirs = FIXTURE.read_bytes()
    assert rep.calibration_images == 500
    assert _per_op(ours) == _per_op(theirs)
    s = schema()
    old, new = (s.ModelT.InitFromObj(s.Model.GetRootAsModel(b, 0)) for b in (theirs, ours))
    assert old.signatureDefs and old.metadata and not new.signatureDefs and not new.metadata
    assert len(ours) == 406_136 < len(theirs) == 408_408

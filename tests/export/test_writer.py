"""sqz's own .tflite files for every architecture sqz trains: float32 logits equal torch's, int8 outputs identical
across TFLite's reference kernels, TensorFlow Lite Micro and tflite-runtime (where it runs), XNNPACK takes every
operator, and an operator the writer does not know is refused in one line.

Weights are random (biases too): these check the conversion, not accuracy; int8 agreement with float on real
images is checked on the trained bundled model (test_int8_agrees_with_float_on_real_images)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from sqz.quantize import floatgraph, qgraph, ranges
from sqz.quantize.flatbuffer import UnknownOperator, serialise
from sqz.quantize.graph import Op
from sqz.runtime.interpreters import reference_outputs
from sqz.runtime.preprocess import Preprocess, normalize
from sqz.train.arch import ArchConfig
from sqz.train.model import build
from sqz.train.surgery import remove_dead_taps

# (arch, input side, channels, classes, config): both versions, simple and complex bypass, stem stride 1, moved
# pools (a PAD before a ceil-mode pool, a pool after the last fire), pruned widths, 1 and 3 channels,
# 2–1000 classes, 28²–224², dead taps (28², 32², 40²) and none.
ARCHS = [
    ("1.1", 224, 3, 10, {}),
    ("1.0", 128, 3, 100, {}),
    ("1.1-bypass", 96, 3, 10, {}),
    ("1.1-complex", 96, 3, 10, {}),
    ("1.1", 28, 1, 10, {}),
    ("1.1", 32, 1, 2, {"pools": (2, 4, 6)}),
    ("1.0", 40, 3, 10, {"stem_stride": 1, "pools": (0, 3, 7, 8)}),
    ("1.1", 48, 3, 1000, {}),
    (
        "1.1",
        64,
        1,
        10,
        {
            "widths": (
                (8, 24, 24),
                (8, 32, 16),
                (16, 48, 48),
                (16, 64, 32),
                (24, 96, 80),
                (24, 96, 96),
                (32, 128, 112),
                (40, 160, 160),
            )
        },
    ),
]


def _model(arch: str, size: int, channels: int, classes: int, extra: dict, seed: int = 0):
    torch.manual_seed(seed)
    model = build(ArchConfig.named(arch, num_classes=classes, in_channels=channels, **extra)).eval()
    with torch.no_grad():
        for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
            conv.bias.uniform_(-0.1, 0.1)
    return remove_dead_taps(model, size)[0]


def _interpreter(content: bytes):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=content)
    it.allocate_tensors()
    return it


def _run(it, x: np.ndarray) -> np.ndarray:
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    got = []
    for img in x:
        it.set_tensor(inp["index"], img[None])
        it.invoke()
        got.append(it.get_tensor(out["index"])[0].copy())
    return np.stack(got)


@pytest.mark.slow
@pytest.mark.parametrize("arch,size,channels,classes,extra", ARCHS, ids=lambda v: str(v))
def test_every_architecture_converts_and_every_interpreter_agrees(arch, size, channels, classes, extra):
    from sqz.runtime.tflite import quantize_input

    net = _model(arch, size, channels, classes, extra)
    pre = Preprocess(size=size, content=size, channels=channels, mean=(0.5,) * channels, std=(0.25,) * channels)
    rng = np.random.default_rng(size)
    images = rng.integers(0, 256, (8 if size <= 128 else 4, size, size, channels), dtype=np.uint8)
    x = normalize(images, pre)
    fg = floatgraph.from_model(net, size)

    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    got = _run(_interpreter(serialise(fg)), x.transpose(0, 2, 3, 1))
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max(), "float32 .tflite vs torch"

    found = ranges.measure(fg, lambda: iter([x.transpose(0, 2, 3, 1)]), "mse")
    content = serialise(fg, qgraph.quantise(fg, found))
    xq = quantize_input(x.transpose(0, 2, 3, 1), _interpreter(content).get_input_details()[0])
    reference = reference_outputs(content, xq)
    assert reference.dtype == np.int8 and len(np.unique(reference)) > 1
    if importlib.util.find_spec("tflite_micro") is not None:
        from sqz.targets.micro import tflm

        np.testing.assert_array_equal(tflm.outputs(content, xq), reference)
    from sqz.runtime.interpreters import cannot_run

    if importlib.util.find_spec("tflite_runtime") is not None and not cannot_run("tflite-runtime"):
        np.testing.assert_array_equal(reference_outputs(content, xq, "tflite-runtime"), reference)
    default = _interpreter(content)
    steps = np.abs(_run(default, xq).astype(np.int64) - reference)
    assert steps.max() <= 24, "XNNPACK's int8 kernels round differently, by a few steps at most"
    from sqz.runtime.bench import delegates_every_op

    assert delegates_every_op(default), "XNNPACK takes every operator"


def test_int8_agrees_with_float_on_real_images(default_export):
    """The bundled model, exported as the README runs it, on the 10,000 Fashion-MNIST test images."""
    import json

    out, _ = default_export
    rep = json.loads((out / "report.json").read_text())
    a = rep["artifacts"]["model_int8.tflite"]
    assert rep["eval_images"] == 10_000 and a["top1_agreement"] >= 0.985 and a["accuracy"] >= 0.920


def test_an_operator_the_writer_does_not_know_is_refused():
    fg = floatgraph.placeholder(ArchConfig(num_classes=10, in_channels=1), 32)
    fg.ops.append(Op("softmax", [len(fg.ops) - 1], (1, 10)))
    with pytest.raises(UnknownOperator, match="operator 'softmax'.*nothing was written"):
        serialise(fg)

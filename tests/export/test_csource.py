"""sqz_model.c: the int8 model compiled to C99 gives the reference kernels' outputs bit for bit on this machine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sqz.export import arena, cgraph, csource, requant
from sqz.export.synthetic import random_int8
from sqz.runtime.interpreters import reference_outputs
from sqz.targets.micro import cfiles
from sqz.train.arch import ArchConfig


@pytest.fixture(scope="module")
def int8_model(tiny_export) -> Path:
    return tiny_export[0] / "model_int8.tflite"


def _io(content: bytes) -> dict:
    m = cgraph.read(content)
    t = m.tensors[m.input]
    return {"input": {"scale": t.scale, "zero_point": t.zero}}


def _pre(size: int, channels: int, content: int | None = None) -> dict:
    return {
        "size": size,
        "content": content or size,
        "channels": channels,
        "mean": [0.5] * channels,
        "std": [0.25] * channels,
        "resize": "squash",
    }


def _host(content: bytes, x: np.ndarray, work: Path, pre: dict, labels: int = 10) -> tuple[np.ndarray, str]:
    sources = csource.generate(content, [f"class {i}" for i in range(labels)], pre, _io(content), "0" * 64)
    csource.write(work, sources)
    return cfiles.run_host(work, x, labels)


def test_the_exported_model_is_bit_identical_on_every_image_the_export_evaluated(int8_model, tmp_path):
    from sqz.runtime import manifest as manifests
    from sqz.targets.micro.verify import quantised_inputs
    from sqz.targets.samples import sample_images

    data, entry = manifests.entry_for(int8_model)
    n = json.loads((int8_model.parent / "report.json").read_text())["eval_images"]
    raw, _ = sample_images(data, n)
    x = quantised_inputs(raw, data.preprocess, entry.io)
    content = int8_model.read_bytes()
    got, warnings = _host(content, x, tmp_path, data.preprocess.to_dict())
    assert n >= 500 and warnings == ""
    np.testing.assert_array_equal(got, reference_outputs(content, x))
    assert len(set(got.argmax(1))) > 3  # a real classifier, not a constant


@pytest.mark.parametrize(
    "cfg, size, int4",
    [
        (ArchConfig(num_classes=10, in_channels=3, bypass="complex"), 64, False),
        (ArchConfig(num_classes=7, in_channels=1, bypass="simple", pools=(1, 4, 8)), 40, False),
        (ArchConfig(num_classes=10, in_channels=1, bypass="simple"), 48, True),
    ],
    ids=["rgb64-complex-bypass-mean", "grey40-pad-add", "int4-weights"],
)
def test_every_operator_sqz_writes_is_bit_identical(cfg, size, int4, tmp_path):
    content = random_int8(cfg, size, seed=3, int4=int4)
    if int4:
        from sqz.quantize.flatbuffer import schema

        s = schema()
        tensors = s.ModelT.InitFromPackedBuf(content, 0).subgraphs[0].tensors
        assert sum(t.type == s.TensorType.INT4 for t in tensors) > 10
    ops = {op.kind for op in cgraph.read(content).ops}
    assert {"conv", "maxpool", "concat", "add", "mean", "reshape"} <= ops
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (6, size, size, cfg.in_channels), dtype=np.int8)
    got, warnings = _host(content, x, tmp_path, _pre(size, cfg.in_channels), cfg.num_classes)
    assert warnings == ""
    np.testing.assert_array_equal(got, reference_outputs(content, x))


def test_pad_is_among_the_operators_of_the_odd_sized_model():
    content = random_int8(ArchConfig(num_classes=7, in_channels=1, bypass="simple", pools=(1, 4, 8)), 40, seed=3)
    assert "pad" in {op.kind for op in cgraph.read(content).ops}


def test_the_pixel_helper_quantises_exactly_as_sqz_runtime(int8_model, tmp_path):
    """sqz_quantize_pixels on uint8 pixels equals sqz's own preprocessing + quantisation (centred, padded)."""
    from sqz.runtime import manifest as manifests
    from sqz.targets.micro.verify import quantised_inputs

    data, entry = manifests.entry_for(int8_model)
    pre = data.preprocess
    csource.write(
        tmp_path, csource.generate(int8_model.read_bytes(), list(data.labels), pre.to_dict(), entry.io, "0" * 64)
    )
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (3, pre.content, pre.content, pre.channels), dtype=np.uint8)
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "sqz_model.h"\n'
        "static uint8_t px[SQZ_IMAGE_SIZE * SQZ_IMAGE_SIZE * SQZ_INPUT_C];\nstatic int8_t q[SQZ_INPUT_SIZE];\n"
        "int main(void) { while (fread(px, 1, sizeof px, stdin) == sizeof px) { sqz_quantize_pixels(px, q);"
        " fwrite(q, 1, sizeof q, stdout); } return 0; }\n"
    )
    exe = tmp_path / "quantise"
    subprocess.run(
        [cfiles.host_compiler(), "-std=c99", "-O2", "-I.", "sqz_model.c", "main.c", "-o", exe.name],
        cwd=tmp_path,
        check=True,
    )
    out = subprocess.run([str(exe)], input=pixels.tobytes(), capture_output=True, check=True).stdout
    want = quantised_inputs(pixels, pre, entry.io)
    np.testing.assert_array_equal(np.frombuffer(out, np.int8).reshape(want.shape), want)


def test_an_operator_the_generator_lacks_is_refused_in_one_line(int8_model):
    from tests.targets.micro.conftest import with_op_renamed

    bad = with_op_renamed(int8_model.read_bytes(), "RESHAPE", "LSH_PROJECTION")
    with pytest.raises(cgraph.UnsupportedModel) as e:
        cgraph.read(bad)
    assert "LSH_PROJECTION" in str(e.value) and "\n" not in str(e.value)


def test_a_float_model_is_refused(tiny_export):
    with pytest.raises(cgraph.UnsupportedModel, match="full-int8"):
        cgraph.read((tiny_export[0] / "model_float32.tflite").read_bytes())


def test_arena_reuses_dead_buffers_writes_expands_into_their_concatenation_and_bands_conv1(int8_model):
    model = cgraph.read(int8_model.read_bytes())
    plan = arena.plan(model)
    concats = [i for i, op in enumerate(model.ops) if op.kind == "concat"]
    assert concats and set(concats) == plan.fused
    assert plan.pooled == {0: 1}  # conv1 feeds the first max-pool: only 3 rows of it are kept
    for i in concats:
        op = model.ops[i]
        out = plan.places[op.output]
        a, b = (plan.places[t] for t in op.inputs)
        assert a.offset == b.offset == out.offset
        assert (a.channel, b.channel) == (0, model.tensors[op.inputs[0]].shape[-1])
    live = {}
    for i, op in enumerate(model.ops):
        for t in [op.output, *op.inputs]:
            if t != model.input:
                live.setdefault(t, [i, i])[1] = i
    assert plan.size < sum(t.size for k, t in model.tensors.items() if k != model.input) / 2
    for i in range(len(model.ops)):
        spans = sorted(
            {
                (plan.places[t].offset, plan.places[t].offset + _bytes(model, plan, t))
                for t, (a, b) in live.items()
                if a <= i <= b
            }
        )
        roots = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)]
        for (_, hi1), (lo2, _) in zip(roots, roots[1:]):
            assert hi1 <= lo2, f"op {i}: live buffers overlap"


def _bytes(model, plan, t: int) -> int:
    """The arena bytes tensor t spans: a band for a conv computed inside its max-pool, else every pixel."""
    for conv, pool in plan.pooled.items():
        if model.ops[conv].output == t:
            return arena.band_bytes(model, conv, pool)
    return model.tensors[t].size // model.tensors[t].shape[-1] * plan.places[t].stride


def test_quantize_multiplier_follows_tflite():
    assert requant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert requant.quantize_multiplier(0.0) == (0, 0)
    assert requant.quantize_multiplier(1.0) == (1 << 30, 1)
    m, s = requant.quantize_multiplier(0.0123)
    assert (1 << 30) <= m < (1 << 31) and abs(m * 2.0 ** (s - 31) - 0.0123) < 1e-11
    assert requant.multiply(1000, *requant.quantize_multiplier(0.25)) == 250
    assert requant.multiply(3, 1 << 30, 0) == 2 and requant.multiply(-3, 1 << 30, 0) == -1  # TFLite's high multiply
    assert requant.divide_by_pot(5, 1) == 3 and requant.divide_by_pot(-5, 1) == -3  # half away from zero


def test_kernels_compile_clean_as_c99_with_every_warning(tmp_path):
    src = tmp_path / "k.c"
    src.write_text(csource.kernels())
    r = subprocess.run(
        [
            cfiles.host_compiler(),
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-c",
            str(src),
            "-o",
            str(tmp_path / "k.o"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr

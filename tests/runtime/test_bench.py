"""`sqz bench` on the tiny export's real artifacts: sane, ordered figures, a stable schema, one-line errors."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sqz.errors import InputError, ModelFileError
from sqz.runtime.bench import bench, summarize

SCHEMA = {
    "model",
    "format",
    "precision",
    "interpreter",
    "delegate",
    "delegate_evidence",
    "threads",
    "input",
    "runs",
    "warmup",
    "latency_ms",
    "load_ms",
    "peak_rss_mib",
    "rss_before_load_mib",
    "machine",
    "sqz_version",
}
LATENCY = {"median", "p90", "min", "max", "mean"}


def _sane(r: dict, runs: int) -> None:
    assert set(r) == SCHEMA and set(r["latency_ms"]) == LATENCY
    lat = r["latency_ms"]
    assert 0 < lat["min"] <= lat["median"] <= lat["p90"] <= lat["max"]
    assert lat["min"] <= lat["mean"] <= lat["max"]
    assert r["runs"] == runs and r["load_ms"] > 0
    assert r["peak_rss_mib"] >= r["rss_before_load_mib"] > 0


@pytest.mark.parametrize("name", ["model_int8.tflite", "model_float32.tflite", "model.onnx"])
def test_bench_times_every_artifact(tiny_export, name):
    out, _ = tiny_export
    r = bench(out / name, threads=1, runs=15, warmup=2)
    _sane(r, 15)
    assert r["threads"] == 1 and r["format"] == name.rsplit(".", 1)[1]
    assert "synthetic" in r["input"]
    if name == "model.onnx":
        assert r["interpreter"].startswith("onnxruntime") and r["delegate"] == "CPUExecutionProvider"


def test_bench_times_the_packed_file_the_board_gets(tiny_export):
    out, _ = tiny_export
    packed = sorted(out.glob("*.tflite.xz"))
    assert packed, "the export writes packed .xz files"
    r = bench(packed[0], runs=5, warmup=1)
    _sane(r, 5)
    assert r["format"].startswith("tflite (unpacked from")


def test_default_interpreter_runs_int8_on_xnnpack_every_time(tiny_export):
    """The shipped int8 file on sqz's default interpreter takes the fast path, also on a second load
    (the interpreter's 'Created XNNPACK delegate' log line appears only once per process)."""
    out, _ = tiny_export
    for _ in range(2):
        r = bench(out / "model_int8.tflite", runs=3, warmup=1)
        assert r["interpreter"].startswith("ai-edge-litert") and r["precision"] == "int8 in / int8 out"
        assert r["delegate"] == "XNNPACK" and "DELEGATE node" in r["delegate_evidence"]


def test_bench_on_real_images(tiny_export, small_dataset, tmp_path):
    out, _ = tiny_export
    paths = []
    for i in range(3):
        Image.fromarray(small_dataset.test.x[i, :, :, 0]).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    r = bench(out / "model_int8.tflite", runs=6, warmup=0, images=paths)
    _sane(r, 6)
    assert r["input"].startswith("3 image file(s)")


def test_summarize_orders_and_converts_to_ms():
    s = summarize(np.random.default_rng(0).exponential(0.002, 500))
    assert 0 < s["min"] <= s["median"] <= s["p90"] <= s["max"]
    assert s["median"] == pytest.approx(1e3 * np.median(np.random.default_rng(0).exponential(0.002, 500)))


def test_bad_arguments_are_refused_before_loading(tiny_export, tmp_path):
    out, _ = tiny_export
    with pytest.raises(InputError, match="--runs"):
        bench(out / "model_int8.tflite", runs=0)
    with pytest.raises(InputError, match="--threads"):
        bench(out / "model_int8.tflite", threads=0)
    with pytest.raises(ModelFileError, match="no such model"):
        bench(tmp_path / "missing.tflite")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "sqz.cli", "bench", *map(str, args)], capture_output=True, text=True)


def test_cli_json_and_one_line_errors(tiny_export, tmp_path):
    out, _ = tiny_export
    r = _cli(out / "model_int8.tflite", "--runs", "5", "--warmup", "1", "--threads", "1", "--json")
    assert r.returncode == 0, r.stderr[-1000:]
    _sane(json.loads(r.stdout), 5)
    r = _cli(out / "model.onnx", "--runs", "5")
    assert r.returncode == 0 and "median" in r.stdout and "onnxruntime" in r.stdout
    copy = tmp_path / "exp"
    shutil.copytree(out, copy)
    (copy / "model_int8.tflite").write_bytes(b"this is not a model\n" * 10)
    (tmp_path / "loose.tflite").write_bytes(b"TFL3 junk")
    for args in [
        (tmp_path / "missing.tflite",),
        (copy / "model_int8.tflite",),
        (tmp_path / "loose.tflite",),
        (out / "model_int8.tflite", "--runs", "0"),
    ]:
        r = _cli(*args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("sqz: error:"), (args, r.stderr)


def test_bench_imports_no_torch_tensorflow_or_onnx():
    code = (
        "import sys, sqz.runtime.bench; "
        "print(','.join(m for m in ('torch', 'tensorflow', 'onnx', 'onnx2tf') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""

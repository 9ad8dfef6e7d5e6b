import json
import subprocess
import sys

import pytest

from sqz.errors import InputError, ModelFileError
from sqz.gate import check


def _sqz(*args):
    return subprocess.run([sys.executable, "-m", "sqz.cli", *args], capture_output=True, text=True)


def test_gate_passes_and_fails_on_real_artifacts(tiny_export):
    out, rep = tiny_export
    int8 = out / "model_int8.tflite"
    size = int8.stat().st_size
    (fits,) = check([int8], budget=str(size))
    assert fits.fits and fits.over_bytes == 0
    (over,) = check([int8], budget=str(size - 1000))
    assert not over.fits and over.over_bytes == 1000 and over.over_percent == pytest.approx(100000 / (size - 1000))
    assert check([out / "model.onnx"], budget="10MB")[0].kind == "onnx"


def test_gate_cli_exit_codes_and_json(tiny_export, tmp_path):
    out, _ = tiny_export
    int8, flt = out / "model_int8.tflite", out / "model_float32.tflite"
    r = _sqz("check", str(int8), "--budget", "2MB")
    assert r.returncode == 0 and r.stdout.startswith("PASS")
    r = _sqz("check", str(int8), str(flt), "--budget", "0.2MB", "--json")
    assert r.returncode == 1
    verdict = json.loads(r.stdout)
    assert verdict["fits"] is False and [a["fits"] for a in verdict["artifacts"]] == [False, False]
    r = _sqz("check", str(flt), "--budget", "1MB")
    assert r.returncode == 1 and "over by" in r.stdout and "%" in r.stdout
    (tmp_path / "x.tflite").write_bytes(b"PNG\x00 not a model")
    for args, needle in [
        ((str(tmp_path / "missing.tflite"),), "no such file"),
        ((str(tmp_path / "x.tflite"),), "not a model"),
        ((str(tmp_path),), "is a directory"),
        ((str(int8), "--budget", "abc"), "not a size"),
        ((str(int8), "--budget", "-1"), "not a size"),
    ]:
        r = _sqz("check", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_gate_refuses_before_judging(tiny_export, tmp_path):
    out, _ = tiny_export
    with pytest.raises(ModelFileError):
        (tmp_path / "junk.onnx").write_bytes(b"\x00\x01garbage")
        check([out / "model_int8.tflite", tmp_path / "junk.onnx"])
    with pytest.raises(InputError):
        check([])


def test_gate_uses_the_metric_asked_for(tiny_export):
    out, _ = tiny_export
    tfl, xz = out / "model_int8.tflite", out / "model_int8.tflite.xz"
    file_size, packed_size = tfl.stat().st_size, xz.stat().st_size
    between = (file_size + packed_size) // 2
    assert not check([tfl], budget=str(between), metric="file")[0].fits
    assert check([tfl], budget=str(between), metric="packed")[0].fits
    assert check([tfl], budget="1MB", metric="packed")[0].bytes == packed_size
    assert check([xz], budget="1MB", metric="file")[0].bytes == file_size
    assert check([xz], budget="1MB", metric="packed")[0].bytes == packed_size

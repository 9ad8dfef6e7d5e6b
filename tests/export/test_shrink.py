import json
import shutil

import numpy as np
import pytest

import sqz.runtime as rt
from sqz.errors import ModelFileError
from sqz.runtime import packed


def test_export_removed_dead_taps_and_writes_nothing_interpreters_do_not_read(tiny_export):
    from sqz.quantize.flatbuffer import schema

    out, rep = tiny_export
    d = rep.dead_taps
    assert d["fires"] == [6, 7, 8, 9] and d["parameters_after"] < d["parameters_before"] / 2
    assert d["max_abs_logit_change"] < 1e-4
    s = schema()
    for name in ("model_int8.tflite", "model_float32.tflite"):
        m = s.ModelT.InitFromObj(s.Model.GetRootAsModel((out / name).read_bytes(), 0))
        assert not m.metadata and not m.signatureDefs and not m.description, name
        assert not any(t.name for t in m.subgraphs[0].tensors), name


def test_packed_artifact_round_trips_bit_exactly(tiny_export):
    out, rep = tiny_export
    entry = rep.artifacts["model_int8.tflite"]["packed"]
    xz = out / entry["file"]
    assert packed.unpack_file(xz) == (out / "model_int8.tflite").read_bytes()
    assert xz.stat().st_size == entry["bytes"] < rep.artifacts["model_int8.tflite"]["bytes"]
    assert packed.pack_bytes((out / "model_int8.tflite").read_bytes()) == xz.read_bytes(), "deterministic"


def test_runtime_loads_packed_and_refuses_a_bad_checksum(tiny_export, small_dataset, tmp_path):
    out, _ = tiny_export
    board = tmp_path / "board"
    board.mkdir()
    for name in ("model_int8.tflite.xz", "manifest.json"):
        shutil.copy(out / name, board / name)
    x = small_dataset.test.x[:50]
    a = rt.load(board / "model_int8.tflite.xz").predict(x)
    b = rt.load(out / "model_int8.tflite").predict(x)
    assert np.array_equal(a, b)
    blob = bytearray((board / "model_int8.tflite.xz").read_bytes())
    blob[-40] ^= 0x01
    (board / "model_int8.tflite.xz").write_bytes(bytes(blob))
    with pytest.raises(ModelFileError, match="sha256"):
        rt.load(board / "model_int8.tflite.xz")
    man = json.loads((board / "manifest.json").read_text())
    man["artifacts"]["model_int8.tflite"]["packed"]["sha256"] = packed.sha256_bytes(bytes(blob))
    (board / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ModelFileError):
        rt.load(board / "model_int8.tflite.xz")

import json
import shutil

import numpy as np
import pytest

import sqz.runtime as rt
from sqz.errors import ModelFileError
from sqz.runtime import packed


def test_export_removed_dead_taps_and_stripped_bit_identically(tiny_export):
    out, rep = tiny_export
    d = rep["dead_taps"]
    assert d["fires"] == [6, 7, 8, 9] and d["parameters_after"] < d["parameters_before"] / 2
    assert d["max_abs_logit_change"] < 1e-4
    s = rep["strip"]["model_int8.tflite"]
    assert s["applied"] and s["bytes_after"] < s["bytes_before"] and s["saved"]["names"] > 1000
    assert set(s["checked_with"]) >= {"ai-edge-litert"}


def test_packed_artifact_round_trips_bit_exactly(tiny_export):
    out, rep = tiny_export
    entry = rep["artifacts"]["model_int8.tflite"]["packed"]
    xz = out / entry["file"]
    assert packed.unpack_file(xz) == (out / "model_int8.tflite").read_bytes()
    assert xz.stat().st_size == entry["bytes"] < rep["artifacts"]["model_int8.tflite"]["bytes"]
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



def test_strip_is_never_kept_unverified(tiny_export, small_dataset, tmp_path, monkeypatch):
    """With no interpreter to compare outputs (or no image to compare on), the file stays byte for byte."""
    from sqz.export import shrink
    from sqz.runtime.preprocess import normalize

    import flatbuffers

    from sqz.export.strip import tflite_schema

    out, _ = tiny_export
    x = normalize(small_dataset.test.x[:8], small_dataset.preprocess)
    schema = tflite_schema()
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel((out / "model_float32.tflite").read_bytes(), 0))
    for i, t in enumerate(m.subgraphs[0].tensors):
        t.name = t.name or f"tensor_{i}".encode()  # names back, as onnx2tf writes them
    builder = flatbuffers.Builder(0)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    original = bytes(builder.Output())
    model = tmp_path / "model_float32.tflite"
    model.write_bytes(original)
    monkeypatch.setattr(shrink, "_installed_interpreters", lambda: [])
    r = shrink.strip_verified(model, x)
    assert not r["applied"] and r["checked_with"] == [] and r["saved"] == {}
    assert model.read_bytes() == original and r["bytes_after"] == r["bytes_before"] == len(original)
    monkeypatch.undo()
    r = shrink.strip_verified(model, x[:0])
    assert not r["applied"] and model.read_bytes() == original
    r = shrink.strip_verified(model, x)
    assert r["applied"] and r["bytes_after"] < len(original), "with an interpreter, the same file is stripped"
    assert not list(tmp_path.glob(".*stripped")), "no temporary file left behind"

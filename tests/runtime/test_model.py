import importlib.util
import json
import shutil

import numpy as np
import pytest
from PIL import Image

import sqz.runtime as rt
from sqz.errors import ModelFileError
from sqz.runtime.preprocess import Preprocess, decode, normalize


def _torch_top1(run, x: np.ndarray) -> np.ndarray:
    """Top-1 of the trained checkpoint in torch, preprocessed with torch ops here (not sqz's `normalize`)."""
    import torch
    import torch.nn.functional as F

    from sqz.train import checkpoint

    model, payload = checkpoint.load(run / "model.pt")
    pre = Preprocess.from_dict(payload["preprocess"])
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    top = (pre.size - pre.content) // 2
    t = F.pad(t, (top, pre.size - pre.content - top) * 2)
    t = (t - torch.tensor(pre.mean).view(1, -1, 1, 1)) / torch.tensor(pre.std).view(1, -1, 1, 1)
    with torch.no_grad():
        return model.eval()(t).argmax(1).numpy()


def test_int8_model_predicts_like_the_torch_checkpoint(tiny_export, tiny_run, small_dataset):
    """The board runtime on the int8 file against an independent reference: the torch checkpoint."""
    out, rep = tiny_export
    m = rt.load(out / "model_int8.tflite")
    assert m.interpreter == "ai-edge-litert"
    x, y = small_dataset.test.x[:500], small_dataset.test.y[:500]
    probs = m.predict(x)
    assert probs.shape == (500, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
    ours, ref = probs.argmax(1), _torch_top1(tiny_run, x)
    assert (ours == ref).mean() >= 0.97
    acc, torch_acc = float((ours == y).mean()), float((ref == y).mean())
    assert torch_acc > 0.5 and abs(acc - torch_acc) <= 0.02
    assert acc == pytest.approx(rep.artifacts["model_int8.tflite"]["accuracy"])


def test_float_arrays_lists_and_uint8_batches_predict_the_same(tiny_export, small_dataset):
    """A 4-D float batch in 0..1, the list of its images and the uint8 batch give one answer."""
    m = rt.load(tiny_export[0] / "model_int8.tflite")
    x = small_dataset.test.x[:16]
    want = m.predict(x)
    floats = x.astype(np.float32) / 255.0
    assert np.array_equal(m.predict(floats), want)
    assert np.array_equal(m.predict(list(floats)), want)
    assert np.array_equal(m.predict(list(x)), want)


def test_every_interpreter_and_format_agrees(tiny_export, small_dataset):
    from sqz.runtime.interpreters import cannot_run

    if importlib.util.find_spec("tflite_runtime") is None or cannot_run("tflite-runtime"):
        pytest.skip("tflite-runtime cannot run here (not installed, or numpy 2: its wheels were built for numpy 1)")
    out, _ = tiny_export
    x = small_dataset.test.x[:100]
    ref = rt.load(out / "model.onnx").predict(x).argmax(1)
    for interp in ("ai-edge-litert", "tflite-runtime"):
        m = rt.load(out / "model_float32.tflite", interpreter=interp)
        assert m.interpreter == interp
        assert (m.predict(x).argmax(1) == ref).mean() >= 0.99
    a = rt.load(out / "model_int8.tflite", interpreter="ai-edge-litert").logits(x)
    b = rt.load(out / "model_int8.tflite", interpreter="tflite-runtime").logits(x)
    scale = json.loads((out / "manifest.json").read_text())["artifacts"]["model_int8.tflite"]["io"]["output"]["scale"]
    steps = np.abs(a - b) / scale
    # Two interpreter builds use different int8 kernels (XNNPACK vs built-in): almost every output is
    # the same step, a few drift by rounding through 26 layers; top-1 stays.
    assert np.median(steps) == 0 and (steps <= 1.01).mean() >= 0.95
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.95


def test_images_from_files_go_through_the_recorded_preprocessing(tiny_export, small_dataset, tmp_path):
    out, _ = tiny_export
    m = rt.load(out / "model_int8.tflite")
    probs = np.sort(m.predict(small_dataset.test.x[:50]), axis=1)
    i = int(np.argmax(probs[:, -1] - probs[:, -2]))  # the clearest of 50 test images: no close call to flip
    arr = small_dataset.test.x[i, :, :, 0]
    Image.fromarray(arr).save(tmp_path / "a.png")
    Image.fromarray(arr).convert("RGB").resize((56, 56), Image.NEAREST).save(tmp_path / "b.jpg", quality=100)
    top = m.top_k([str(tmp_path / "a.png")], k=3)[0]
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    assert np.array_equal(m.predict([str(tmp_path / "a.png")]), m.predict(small_dataset.test.x[i : i + 1]))
    # An RGB JPEG at twice the size goes to grey and back to 28x28: nearly the same pixels, the same top-1.
    pre = m.preprocess
    assert np.abs(decode(tmp_path / "b.jpg", pre).astype(int) - arr[:, :, None]).mean() < 8
    a, b = m.predict([str(tmp_path / "a.png"), str(tmp_path / "b.jpg")])
    assert a.argmax() == b.argmax() and np.abs(a - b).max() < 0.2


def test_damaged_or_unlisted_models_are_refused(tiny_export, tmp_path):
    out, _ = tiny_export
    copy = tmp_path / "exp"
    shutil.copytree(out, copy)
    data = bytearray((copy / "model_int8.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model_int8.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="sha256 does not match"):
        rt.load(copy / "model_int8.tflite")
    (copy / "other.tflite").write_bytes(b"junk")
    with pytest.raises(ModelFileError, match="not listed"):
        rt.load(copy / "other.tflite")
    (copy / "manifest.json").unlink()
    with pytest.raises(ModelFileError, match="no manifest"):
        rt.load(copy / "model.onnx")
    with pytest.raises(ModelFileError, match="no such model"):
        rt.load(tmp_path / "nope.tflite")


def test_preprocess_pads_centred_and_normalises():
    pre = Preprocess(size=32, content=28, channels=1, mean=(0.5,), std=(0.5,))
    x = np.full((1, 28, 28, 1), 255, np.uint8)
    y = normalize(x, pre)
    assert y.shape == (1, 1, 32, 32)
    assert y[0, 0, 2:30, 2:30].min() == pytest.approx(1.0) and y[0, 0, 0, 0] == pytest.approx(-1.0)
    rgba = np.zeros((10, 20, 4), np.uint8)
    assert decode(rgba, pre).shape == (28, 28, 1)


def test_top_k_lists_ties_in_class_order(monkeypatch):
    """numpy's default argsort orders equal probabilities differently on x86-64 and aarch64 (nine classes tied
    at 1.0 % in the ankle-boot example of docs/commands.md); ties go by class index on every CPU."""
    from sqz.runtime.model import Model

    probs = np.full((2, 10), 0.01)
    probs[0, 9], probs[1, 4] = 0.91, 0.91
    m = Model.__new__(Model)
    m.labels = [f"c{i}" for i in range(10)]
    monkeypatch.setattr(Model, "predict", lambda self, images: probs)
    top = m.top_k([None, None], k=4)
    assert [name for name, _ in top[0]] == ["c9", "c0", "c1", "c2"]
    assert [name for name, _ in top[1]] == ["c4", "c0", "c1", "c2"]

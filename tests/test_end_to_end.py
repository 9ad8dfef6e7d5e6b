"""Your own photos, end to end: an RGB train/ + val/ folder of mixed sizes, formats and orientations is
trained, moved away, exported, and `sqz run` on the raw files agrees with the export's own evaluation."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sqz.cli import export_main, main
from sqz.export.evalset import EvalSet
from sqz.runtime import load
from sqz.train import folder

CLASSES = ("apple", "leaf", "sky")
TINTS = ((200, 40, 40), (40, 160, 40), (60, 90, 220))


def _photo(rng, label):
    """A tinted noisy photo of a random size (96-400 px a side) and aspect ratio, with a bright square."""
    w, h = (int(v) for v in rng.integers(96, 401, 2))
    x = np.clip(rng.normal(TINTS[label], 40, (h, w, 3)), 0, 255).astype(np.uint8)
    s = min(w, h) // 3
    top, left = int(rng.integers(0, h - s)), int(rng.integers(0, w - s))
    x[top : top + s, left : left + s] = 255 - np.asarray(TINTS[label], np.uint8)
    return Image.fromarray(x)


def _write(root):
    """train/ (8 per class) + val/ (4 per class), JPEG and PNG, one corrupt file, one EXIF-rotated JPEG."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("val", 4)):
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for k in range(n):
                suffix = ".jpg" if k % 2 else ".png"
                _photo(rng, label).save(root / split / name / f"{k}{suffix}", quality=90)
    (root / "train" / "leaf" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    exif = Image.Exif()
    exif[0x0112] = 6
    _photo(rng, 2).transpose(Image.Transpose.ROTATE_90).save(root / "val" / "sky" / "rotated.jpg", exif=exif)
    return root


@pytest.mark.slow
def test_own_rgb_photos_train_move_export_and_run_agree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = _write(tmp_path / "photos")
    runner = CliRunner()
    r = runner.invoke(
        main,
        [
            "train",
            "--data",
            str(data),
            "--size",
            "64",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--lr",
            "1e-3",
            "--workers",
            "0",
            "--out",
            "run",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "calibration.npz").is_file()
    moved = shutil.move(str(data), tmp_path / "moved")
    r = runner.invoke(
        export_main,
        [
            "run/model.pt",
            "--int8",
            "--calib",
            "16",
            "--ranges",
            "minmax",
            "--out",
            "exp",
            "--data",
            str(moved),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "exp" / "report.json").read_text())
    assert "calibration.npz" in rep["calibration_source"] and rep["calibration_images"] == 16
    assert rep["calibration_ranges"] == "minmax"
    assert rep["eval_images"] == 13 and rep["preprocess"]["size"] == 64
    held_out = [(str(moved / e["path"]), e["label"]) for e in folder.read_split(tmp_path / "run")["test"]]
    assert len(held_out) == 13 and any(p.endswith("rotated.jpg") for p, _ in held_out)

    r = runner.invoke(main, ["run", "exp/model_int8.tflite", *[p for p, _ in held_out], "--top", "1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    by_run = [CLASSES.index(p["top"][0]["label"]) for p in out["predictions"]]
    model = load(tmp_path / "exp" / "model_int8.tflite")
    logits = np.concatenate([model.logits(x) for x, _ in EvalSet("t", items=held_out).batches(model.preprocess)])
    labels = np.array([y for _, y in held_out])
    assert float((logits.argmax(1) == labels).mean()) == rep["artifacts"]["model_int8.tflite"]["accuracy"]
    # per image, sqz run's top-1 is the export's (an int8 tie may name either of the tied classes)
    assert all(logits[i, j] == logits[i].max() for i, j in enumerate(by_run))

    r = runner.invoke(export_main, ["run/model.pt", "--out", "exp-nodata"])
    assert r.exit_code == 0, r.output
    assert (
        "evaluation skipped: the training data" in r.output
        and "Evaluation skipped" in (tmp_path / "exp-nodata" / "report.md").read_text()
    )

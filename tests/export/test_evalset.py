import os
import shutil

import numpy as np
import pytest
from PIL import Image

from sqz.errors import DatasetError
from sqz.export import evalset
from sqz.train import folder


def _run(tmp_path, per_class=6):
    """An image folder (train/ + val/, 2 classes, PNG) and a run directory recording its split."""
    rng = np.random.default_rng(0)
    data = tmp_path / "photos"
    for split in ("train", "val"):
        for c in ("cat", "dog"):
            (data / split / c).mkdir(parents=True)
            for k in range(per_class):
                Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(data / split / c / f"{k}.png")
    listed = folder.index(data, size=16)
    run = tmp_path / "runs" / "a"
    folder.write_split(run, listed, {"train": listed.train, "val": listed.val or [], "test": listed.test})
    payload = {"classes": ["cat", "dog"], "record": {"config": {"data": str(data), "seed": 0}}}
    return data, run, payload, listed


def _rel(items, root):
    return [(os.path.relpath(p, root), y) for p, y in items]


def test_export_evaluates_on_exactly_the_files_training_held_out(tmp_path):
    data, run, payload, listed = _run(tmp_path)
    ev = evalset.open_eval(run / "model.pt", payload, listed.preprocess, None, 0, print)
    assert _rel(ev.items, data) == _rel(listed.test, data) and len(ev) == 12


def test_a_moved_folder_is_found_with_data_or_skipped_with_one_line(tmp_path):
    data, run, payload, listed = _run(tmp_path)
    moved = tmp_path / "elsewhere"
    shutil.move(str(data), moved)
    lines = []
    assert evalset.open_eval(run / "model.pt", payload, listed.preprocess, None, 0, lines.append) is None
    assert len(lines) == 1 and "gone" in lines[0] and "--data" in lines[0]
    ev = evalset.open_eval(run / "model.pt", payload, listed.preprocess, str(moved), 0, lines.append)
    assert _rel(ev.items, moved) == _rel(listed.test, data) and len(lines) == 1


@pytest.mark.parametrize(
    "name, kind", [("gone.npz", "--data where"), ("gone-images-idx3-ubyte.gz", "--data where"), ("gone", "--data DIR")]
)
def test_a_gone_dataset_is_named_as_the_file_or_folder_it_was(tmp_path, name, kind):
    from sqz.runtime.preprocess import Preprocess

    payload = {"classes": ["a", "b"], "record": {"config": {"data": str(tmp_path / name), "seed": 0}}}
    lines = []
    pre = Preprocess(size=16, channels=1, mean=(0.5,), std=(0.5,))
    assert evalset.open_eval(tmp_path / "run" / "model.pt", payload, pre, None, 0, lines.append) is None
    assert len(lines) == 1 and "is gone" in lines[0] and kind in lines[0]


def test_changed_test_files_are_counted_in_one_warning_and_left_out(tmp_path):
    data, run, payload, listed = _run(tmp_path)
    (data / "val" / "cat" / "0.png").unlink()
    with open(data / "val" / "dog" / "1.png", "ab") as f:
        f.write(b"\0")
    lines = []
    ev = evalset.open_eval(run / "model.pt", payload, listed.preprocess, None, 0, lines.append)
    assert len(ev) == 10 and len(lines) == 1 and "2 of the 12 test files" in lines[0]
    for p in (data / "val").rglob("*.png"):
        p.unlink()
    with pytest.raises(DatasetError, match="none of the 12 test files"):
        evalset.open_eval(run / "model.pt", payload, listed.preprocess, None, 0, lines.append)


def test_the_recorded_root_is_absolute_and_a_relative_data_path_resolves_beside_the_checkpoint(tmp_path, monkeypatch):
    data, run, payload, listed = _run(tmp_path)
    assert os.path.isabs(folder.read_split(run)["root"])
    (run / folder.SPLIT_FILE).unlink()
    shutil.move(str(data), run / "photos")
    payload["record"]["config"]["data"] = "photos"
    monkeypatch.chdir(tmp_path)
    ev = evalset.open_eval(run / "model.pt", payload, listed.preprocess, None, 0, print)
    assert len(ev) == 12 and all(p.startswith(str(run / "photos")) for p, _ in ev.items)


def test_evaluation_streams_in_batches_and_the_limit_applies_before_decoding(tmp_path, monkeypatch):
    data, run, payload, listed = _run(tmp_path, per_class=40)
    decoded = []
    real = folder.try_decode
    monkeypatch.setattr(folder, "try_decode", lambda p, pre: decoded.append(p) or real(p, pre))
    ev = evalset.open_eval(run / "model.pt", payload, listed.preprocess, None, 5, print)
    assert len(ev) == 5 and decoded == []
    assert [len(y) for _, y in ev.batches(listed.preprocess, 2)] == [2, 2, 1] and len(decoded) == 5
    ev = evalset.open_eval(run / "model.pt", payload, listed.preprocess, None, 0, print)
    sizes = [x.shape for x, _ in ev.batches(listed.preprocess)]
    assert sizes == [(64, 16, 16, 3), (16, 16, 16, 3)]

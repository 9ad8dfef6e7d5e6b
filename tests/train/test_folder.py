import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sqz.cli import main
from sqz.errors import DatasetError
from sqz.runtime.preprocess import decode
from sqz.train import data, folder, stream


def _pool(root, n=40):
    """`n` 8x8 greyscale PNGs in two classes, image i filled with the value 5 * i (so each is recognisable)."""
    for i in range(n):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 5 * i, np.uint8)).save(root / f"c{i % 2}" / f"{i:02d}.png")
    return root


def test_in_memory_and_streamed_readers_hold_out_the_same_files_when_one_is_unreadable(tmp_path):
    root = _pool(tmp_path / "pool")
    listed = folder.index(root)
    unreadable = listed.train[0][0]
    with open(unreadable, "wb") as f:
        f.write(b"not an image")
    listed = folder.index(root)
    streamed = stream.FolderSource(listed, seed=0, val_fraction=0, limit=0, workers=0)
    ds = data.load_image_folder(root)
    assert ds.skipped == 1 and len(ds.test) == len(listed.test) == len(streamed.test) == 6
    held_out = sorted(int(decode(p, listed.preprocess)[0, 0, 0]) for p, _ in streamed.test)
    assert sorted(int(v) for v in ds.test.x[:, 0, 0, 0]) == held_out
    assert sorted(int(v) for v in ds.train.x[:, 0, 0, 0]) == sorted(
        int(decode(p, listed.preprocess)[0, 0, 0]) for p, _ in listed.train if p != unreadable
    )


def test_the_split_is_recorded_with_sizes_and_times(tmp_path):
    root = _pool(tmp_path / "pool")
    listed = folder.index(root)
    folder.write_split(tmp_path / "run", listed, {"train": listed.train, "test": listed.test})
    rec = folder.read_split(tmp_path / "run")
    assert rec["classes"] == ["c0", "c1"] and len(rec["train"]) == 34 and len(rec["test"]) == 6
    first = rec["test"][0]
    path = root / first["path"]
    assert (str(path), first["label"]) == listed.test[0]
    assert first["size"] == path.stat().st_size and first["mtime"] == path.stat().st_mtime


def _tree(root, splits, classes=("a", "b"), per_class=3):
    for s in splits:
        for c in classes:
            (root / s / c).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(root / s / c / f"{i}.png")
    return root


@pytest.mark.parametrize("splits", [("train", "test"), ("train", "val"), ("train", "val", "test")])
def test_split_layouts(tmp_path, splits):
    root = _tree(tmp_path / "d", splits)
    f = folder.index(root)
    assert f.layout == "/".join(splits) and f.classes == ("a", "b") and len(f.train) == 6
    assert f.final == ("test" if "test" in splits else "val")
    # val/ picks the kept epoch only when test/ gives the final figure; else a share of train/ does.
    assert f.val == (
        None
        if "test" not in splits or "val" not in splits
        else [(str(root / "val" / c / f"{i}.png"), k) for k, c in enumerate("ab") for i in range(3)]
    )
    assert all(f"/{f.final}/" in p for p, _ in f.test)
    src = stream.FolderSource(f, seed=0, val_fraction=0.5, limit=0, workers=0)
    assert src.n_train == (6 if f.val is not None else 3)
    assert not {p for p, _ in src.val} & {p for p, _ in f.test}
    assert ("no test/: the final figure is on val/" in folder.describe(f)) == (f.final == "val")
    assert ("val 6" in folder.describe(f)) == ("val" in splits)
    assert f"layout {f.layout} (2 classes" in folder.describe(f)


def test_hidden_and_empty_folders_are_ignored_with_a_note(tmp_path):
    root = _tree(tmp_path / "d", [""], classes=("a", "b", ".cache"))
    (root / "empty").mkdir()
    with pytest.warns(UserWarning, match=r"ignored hidden folder \.cache/ .*; empty folder empty/"):
        f = folder.index(root)
    assert f.layout == "classes" and f.classes == ("a", "b")


@pytest.mark.parametrize(
    "splits, says",
    [
        (("train",), "matches no layout"),
        (("train", "other"), "matches no layout"),
        (("val", "test"), "matches no layout"),
    ],
)
def test_trees_matching_no_layout_are_refused(tmp_path, splits, says):
    root = _tree(tmp_path / "d", splits)
    with pytest.raises(DatasetError, match=says):
        folder.index(root)


def test_splits_that_disagree_on_classes_are_refused_in_one_line(tmp_path):
    root = _tree(tmp_path / "d", ["train"], classes=("a", "b", "c"))
    _tree(root, ["val"], classes=("a", "b", "d"))
    with pytest.raises(DatasetError, match=r"val/ and train/ disagree .*train/ only: c; in val/ only: d"):
        folder.index(root)
    r = CliRunner().invoke(main, ["train", "--data", str(root), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "disagree on the classes" in r.output

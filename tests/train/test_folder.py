import numpy as np
from PIL import Image

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
        int(decode(p, listed.preprocess)[0, 0, 0]) for p, _ in listed.train if p != unreadable)


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

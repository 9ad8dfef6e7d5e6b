"""bench/small_sets.py's table and plot from a made-up record, and the photo folder it builds (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import small_sets


def _run(acc, int8=None, bytes_=497_648):
    return {
        "command": "sqz train --data DIR",
        "wall_s": 50.0,
        "test_acc": acc,
        "epochs": 12,
        "batch_size": 16,
        "auto_epochs": 46,
        "optimizer_steps": 1056,
        "train_images": 1400,
        "val_images": 127,
        "test_images": 270,
        "printed": ["budget 500,000 B: …"],
        "export": {"int8_acc": int8 or acc, "int8_bytes": bytes_, "weakest": "weakest classes: 5 90.0 %"},
    }


RESULTS = {
    "machine": "x86_64, 2 cores",
    "threads": 1,
    "sets": [
        {
            "set": "digits",
            **small_sets.SETS["digits"],
            "measured": {"date": "2026-12-05 00:00 UTC", "commit": "abc1234", "load": 1.5},
            "sqz": _run(0.99, 0.98),
            "sqz_flip": _run(0.97),
            "sqz_published": _run(0.95, bytes_=406_368),
            "reference": {"test_acc": 0.96, "train_seconds": 4.0, "epochs": 12},
        }
    ],
}


def test_table_compares_int8_with_the_reference_and_names_what_ran(tmp_path):
    md = small_sets.render(RESULTS)
    row = "| digits (28², grey) | 1,400 + 127 / 270 | 12 (46) | **98.0 %** (99.0 %) | 497,648 B | 96.0 % | +2.0 pt |"
    assert row in md
    assert "| digits | 99.0 % | 97.0 % |" in md and "406,368 B" in md
    assert row + " 50 s / 4 s | `abc1234`, 2026-12-05 00:00 UTC, load 1.5 |" in md
    small_sets.plot(RESULTS, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_each_row_names_its_own_commit(monkeypatch):
    """A row run later carries its own stamp; the other rows keep theirs."""
    later = {**RESULTS["sets"][0], "set": "grey", **small_sets.SETS["grey"]}
    later["measured"] = small_sets._stamp()
    later["sqz_auto"], later["reference_auto"] = _run(0.9), {"test_acc": 0.85, "train_seconds": 9.0}
    later["auto_measured"] = {"landed": "fedcba9", "date": "2026-12-04 10:00 UTC"}
    md = small_sets.render({**RESULTS, "sets": [RESULTS["sets"][0], later]})
    assert later["measured"]["commit"].rstrip("+") and f"`{later['measured']['commit']}`, " in md
    assert "`abc1234`, 2026-12-05 00:00 UTC" in md
    assert "| +5.0 pt | 50 s / 9 s | landed in `fedcba9`, 2026-12-04 |" in md


def test_the_stamp_marks_changed_code_but_not_the_bench_own_output(tmp_path, monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "docs" / "bench").mkdir(parents=True)
    (tmp_path / "docs" / "bench" / "small_sets.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    monkeypatch.setattr(small_sets, "REPO", tmp_path)
    (tmp_path / "docs" / "bench" / "small_sets.json").write_text('{"sets": []}')
    clean = small_sets._stamp()["commit"]
    assert clean and not clean.endswith("+")
    (tmp_path / "code.py").write_text("x = 2\n")
    assert small_sets._stamp()["commit"] == clean + "+"


def test_photo_folder_puts_items_over_photographs(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("skimage")
    from PIL import Image

    from bench import small_folders

    root = small_folders.write_photos(tmp_path / "p", 20, 10, 64)
    files = sorted(root.glob("*/*/*.png"))
    assert len(files) == 30 and {f.parts[-3] for f in files} == {"train", "test"}
    x = np.asarray(Image.open(files[0]))
    assert x.shape == (64, 64, 3) and x.std() > 20, "a photographic background, not a flat colour"

"""Per-class accuracy and the confusion matrix: counts, table and PNG from labels and predictions."""

import numpy as np

from sqz.train import confusion


def test_matrix_and_per_class_accuracy_count_every_image():
    y = np.array([0, 0, 0, 1, 1, 2])
    p = np.array([0, 1, 0, 1, 1, 0])
    m = confusion.matrix(y, p, 4)
    assert m.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    s = confusion.summary(m, ("a", "b", "c", "d"))
    assert [r["accuracy"] for r in s["per_class"]] == [2 / 3, 1.0, 0.0, None]
    assert [r["images"] for r in s["per_class"]] == [3, 2, 1, 0]
    assert confusion.weakest(s, 2) == "weakest classes: c 0.0 %, a 66.7 %"


def test_tables_and_png(tmp_path):
    s = confusion.summary(confusion.matrix([0, 1, 1], [0, 0, 1], 2), ("cat", "dog"))
    assert confusion.per_class_markdown(s)[2:] == ["| cat | 1 | 1 | 100.0 % |", "| dog | 2 | 1 | 50.0 % |"]
    assert confusion.matrix_markdown(s)[2:] == ["| cat | 1 | 0 |", "| dog | 1 | 1 |"]
    confusion.plot(s, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_thousand_classes_give_a_bounded_png_and_no_giant_table(tmp_path):
    from PIL import Image

    y = np.arange(2000) % 1000
    s = confusion.summary(confusion.matrix(y, (y + (y % 3 == 0)) % 1000, 1000), [f"c{i}" for i in range(1000)])
    assert len(confusion.matrix_markdown(s)) == 1
    confusion.plot(s, tmp_path / "big.png")
    assert max(Image.open(tmp_path / "big.png").size) <= 100 * confusion.MAX_INCHES + 100

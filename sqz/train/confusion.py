"""Per-class accuracy and the confusion matrix of a classifier on labelled images, as JSON, Markdown and PNG
(numpy only, shared by the training run's metrics and the export report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TABLE_CLASSES = 30  # beyond this the matrix has no per-cell labels and no Markdown table
MAX_INCHES = 16.0  # the PNG's side: 1,600 px at most, whatever the number of classes


def matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts [true class, predicted class] as int64 (n_classes × n_classes)."""
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def summary(m: np.ndarray, classes: list[str] | tuple[str, ...]) -> dict:
    """`{"classes", "matrix", "per_class": [{class, images, correct, accuracy}]}`; accuracy None for a class
    with no images."""
    m = np.asarray(m, np.int64)
    rows = []
    for i, name in enumerate(classes):
        n, ok = int(m[i].sum()), int(m[i, i])
        rows.append({"class": name, "images": n, "correct": ok, "accuracy": ok / n if n else None})
    return {"classes": list(classes), "matrix": m.tolist(), "per_class": rows}


def weakest(s: dict, n: int = 3) -> str:
    """The `n` classes of lowest accuracy, as one line."""
    rows = sorted((r for r in s["per_class"] if r["accuracy"] is not None), key=lambda r: r["accuracy"])
    return "weakest classes: " + ", ".join(f"{r['class']} {100 * r['accuracy']:.1f} %" for r in rows[:n])


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f} %"


def per_class_markdown(s: dict) -> list[str]:
    """Per-class images, correct answers and accuracy as a Markdown table."""
    out = ["| class | images | correct | accuracy |", "|---|---|---|---|"]
    return out + [
        f"| {r['class']} | {r['images']:,} | {r['correct']:,} | {_pct(r['accuracy'])} |" for r in s["per_class"]
    ]


def matrix_markdown(s: dict) -> list[str]:
    """The confusion matrix as a Markdown table (rows: true class, columns: predicted); past TABLE_CLASSES
    classes one line that points at the JSON and the PNG instead."""
    names = s["classes"]
    if len(names) > TABLE_CLASSES:
        return [f"The {len(names)} × {len(names)} confusion matrix is in the JSON record and the PNG beside it."]
    out = ["| true \\ predicted | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    return out + [f"| {name} | " + " | ".join(str(v) for v in row) + " |" for name, row in zip(names, s["matrix"])]


def plot(s: dict, path: Path, title: str = "confusion matrix") -> None:
    """The matrix as a PNG heat map with counts, rows normalised for the colour (matplotlib's Agg backend)."""
    from sqz.train.history import figure_class

    Figure = figure_class()
    m = np.asarray(s["matrix"], np.float64)
    names = s["classes"]
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    side = min(max(4.0, 0.45 * len(names) + 2), MAX_INCHES)
    fig = Figure(figsize=(side + 1, side), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if len(names) <= TABLE_CLASSES:
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        for i in range(len(names)):
            for j in range(len(names)):
                if m[i, j]:
                    ax.text(
                        j,
                        i,
                        str(int(m[i, j])),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black",
                    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, format="png")

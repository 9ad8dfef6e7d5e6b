"""Per-epoch training history a person can read: history.csv, history.json, curves.png; TensorBoard optional."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqz.errors import InputError
from sqz.files import atomic_write
from sqz.runtime.signals import held

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_s", "skipped_images")


def write(out: Path, history: list[dict]) -> None:
    """Rewrite the CSV, JSON and PNG from the whole history (each atomically)."""
    out = Path(out)

    def write_csv(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(history)

    atomic_write(out / "history.csv", write_csv)
    atomic_write(out / "history.json", lambda tmp: tmp.write_text(json.dumps(history, indent=2) + "\n"))
    atomic_write(out / "curves.png", lambda tmp: plot(history, tmp))


def figure_class():
    """matplotlib's Figure on the Agg backend, imported with Ctrl-C and SIGTERM held until it is loaded: a signal
    raised inside the first import of its C extensions aborts Python instead of stopping the run."""
    with held():
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    return Figure


def plot(history: list[dict], path: Path) -> None:
    """Loss and accuracy per epoch, training and validation, as a PNG (matplotlib's Agg backend)."""
    Figure = figure_class()
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(9, 3.6), dpi=100)
    for ax, key, title in (
        (fig.add_subplot(1, 2, 1), "loss", "loss (cross-entropy)"),
        (fig.add_subplot(1, 2, 2), "acc", "accuracy"),
    ):
        ax.plot(epochs, [h[f"train_{key}"] for h in history], "o-", label="train")
        if all(f"val_{key}" in h for h in history):
            ax.plot(epochs, [h[f"val_{key}"] for h in history], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")


class Board:
    """TensorBoard scalars under OUT/tensorboard when asked for; needs the tensorboard package."""

    def __init__(self, out: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise InputError(
                "--tensorboard needs the tensorboard package (pip install tensorboard); "
                "history.csv and curves.png are written without it"
            ) from None
        self.writer = SummaryWriter(str(Path(out) / "tensorboard"))

    def log(self, row: dict) -> None:
        for key in COLUMNS[1:]:
            if isinstance(row.get(key), (int, float)):
                self.writer.add_scalar(key, row[key], row["epoch"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

"""What a run writes: `last.pt` with its resume state and the history after each epoch, `model.pt` and
`metrics.json` at the end; only rank 0 writes."""

from __future__ import annotations

import json
from pathlib import Path

from sqz.files import atomic_write
from sqz.train import checkpoint, confusion, distributed, history
from sqz.train.best import Best
from sqz.train.parts import Parts
from sqz.train.resume import rng_state

ARTIFACTS = ("last.pt", "model.pt", "metrics.json", "history.csv", "history.json", "curves.png", "confusion.png")


def clean_stale(out: Path, names: tuple[str, ...] = ARTIFACTS) -> None:
    """Remove temporary files an interrupted write of `names` left in `out`."""
    for name in names:
        for stale in Path(out).glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)


def save_epoch(
    out: Path,
    p: Parts,
    src,
    record: dict,
    rows: list[dict],
    epochs_done: int,
    skipped: set[str],
    ctx: distributed.Context,
    board=None,
    best: Best | None = None,
) -> None:
    """Checkpoint after an epoch: weights, optimizer, schedule, scaler, every rank's RNG and the best epoch's
    weights so far; the history."""
    state = {
        "epoch": epochs_done,
        "optimizer": p.opt.state_dict(),
        "scheduler": p.sched.state_dict(),
        "rng": rng_state(p.gen, ctx),
        "world_size": ctx.world,
        "best": best.to_dict() if best else None,
        "scaler": p.scaler.state_dict() if p.scaler is not None else None,
        "skipped": sorted(skipped),
    }
    if ctx.world > 1:
        state["rng_ranks"] = distributed.gather(ctx, rng_state(p.gen, ctx))
    if ctx.main:
        checkpoint.save(Path(out) / "last.pt", p.net, src.preprocess, src.classes, record, state)
        history.write(Path(out), rows)
        if board:
            board.log(rows[-1])


def save_final(out: Path, p: Parts, src, record: dict, ctx: distributed.Context) -> None:
    """The finished model (no resume state), its record as metrics.json and its test confusion matrix as PNG."""
    if ctx.main:
        checkpoint.save(Path(out) / "model.pt", p.net, src.preprocess, src.classes, record)
        if "test_confusion" in record:
            atomic_write(
                Path(out) / "confusion.png",
                lambda tmp: confusion.plot(record["test_confusion"], tmp, "test set (kept epoch)"),
            )
        atomic_write(
            Path(out) / "metrics.json", lambda tmp: tmp.write_text(json.dumps(record, indent=2, default=float))
        )

"""Where a checkpoint's training data is now: `--data` when given, else the path its run recorded, found as
given or beside the checkpoint (a run directory moved together with its data)."""

from __future__ import annotations

from pathlib import Path

FASHION_MNIST = "fashion-mnist"


def config(payload: dict) -> dict:
    """The training configuration a checkpoint records ({} for checkpoints without one)."""
    return (payload.get("record") or {}).get("config") or {}


def mirrored(payload: dict) -> bool:
    """Whether the run's training mirrored its images (runs from before `--flip` existed did)."""
    return bool(config(payload).get("flip", True))


def locate(spec: str, run_dir: Path) -> Path | None:
    """`spec` as a path that exists: as given (absolute, or relative to the current directory), else
    relative to the checkpoint's directory `run_dir`; None when neither exists."""
    for p in (Path(spec), Path(run_dir) / spec):
        if p.exists():
            return p
    return None


def training_data(payload: dict, run_dir: Path, data: str | None = None) -> tuple[str, str | None]:
    """(spec, where): `data`, else the data the checkpoint's run trained on (fashion-mnist when it records none),
    and what `sqz.train.data.load` reads for it now (`locate`'s path, fashion-mnist as is), None when it is gone."""
    spec = data or config(payload).get("data", FASHION_MNIST)
    if spec == FASHION_MNIST:
        return spec, spec
    found = locate(spec, run_dir)
    return spec, None if found is None else str(found)

"""Copy a finished run into the package as the bundled default: weights + training record, no resume state."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqz.files import atomic_write
from sqz.train import checkpoint


def bundle(run_dir: Path, dest_stem: Path) -> tuple[Path, Path]:
    """Write `dest_stem`.pt (model, preprocessing, classes, record) and `dest_stem`.json (the record)."""
    model, payload = checkpoint.load(Path(run_dir) / "model.pt")
    record = payload["record"]
    pt, js = (dest_stem.parent / (dest_stem.name + ext) for ext in (".pt", ".json"))
    from sqz.runtime.preprocess import Preprocess

    checkpoint.save(pt, model, Preprocess.from_dict(payload["preprocess"]), tuple(payload["classes"]), record)
    atomic_write(js, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))
    return pt, js


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tools/bundle_default.py RUN_DIR DEST_STEM")
    for p in bundle(Path(sys.argv[1]), Path(sys.argv[2])):
        print(p)

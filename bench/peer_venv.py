"""Benchmark peers' own venvs under bench/, each built once (a marker file records its pins): toolchains whose
pins cannot share the project venv. litert-torch's is here (bench/.venv-litert-torch); bench/peer_onnx2tf.py
builds the old onnx2tf path's (bench/.venv-onnx2tf) with the same class.

python -m bench.peer_venv   builds the litert-torch venv if needed and prints what it holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TORCH = "torch==2.13.0"


class PeerError(RuntimeError):
    """A peer venv that cannot be built here; the message is one line saying why."""


def self_ignore(folder: Path) -> None:
    """A `.gitignore` of `*` inside `folder`, so a built venv or cache never shows up in `git status`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".gitignore").write_text("*\n")


@dataclass(frozen=True)
class PeerVenv:
    """A venv at bench/`name`: `first` installed alone (the CPU torch: unpinned, a peer would pull a
    multi-GB CUDA build), then `pins` together with `first` again (so nothing moves it)."""

    name: str
    first: tuple[str, ...]
    pins: tuple[str, ...]
    report: tuple[str, ...]  # distributions whose versions `versions()` reports

    @property
    def dir(self) -> Path:
        return BENCH / self.name

    def python(self) -> Path:
        return self.dir / "bin" / "python"

    def wanted(self) -> str:
        return " ".join(dict.fromkeys(self.first + self.pins))

    def ready(self) -> bool:
        marker = self.dir / ".installed"
        return marker.exists() and marker.read_text().strip() == self.wanted()

    def ensure(self, log=print, base: str | None = None) -> dict:
        """Create the venv once with `base` (default: this interpreter); what it holds and how long creating
        it took. A failed pip install leaves no marker, so the next call starts over."""
        if self.ready():
            return {"created": False, "seconds": 0.0, "versions": self.versions()}
        t = time.perf_counter()
        log(f"peer venv: creating {self.dir} ({self.wanted()}) …")
        subprocess.run([base or sys.executable, "-m", "venv", "--clear", str(self.dir)], check=True)
        self_ignore(self.dir)
        pip = [str(self.python()), "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["--upgrade", "pip"], check=True)
        subprocess.run(pip + list(self.first), check=True)
        subprocess.run(pip + list(dict.fromkeys(self.pins + self.first)), check=True)
        (self.dir / ".installed").write_text(self.wanted() + "\n")
        return {"created": True, "seconds": round(time.perf_counter() - t, 1), "versions": self.versions()}

    def versions(self) -> dict:
        """{distribution: version or None} of `report`, read inside the venv."""
        code = (
            "import json, sys, importlib.metadata as m\n"
            "def v(p):\n    try:\n        return m.version(p)\n"
            "    except m.PackageNotFoundError:\n        return None\n"
            "print(json.dumps({'python': '.'.join(map(str, sys.version_info[:3])), "
            "**{p: v(p) for p in sys.argv[1:]}}))"
        )
        out = subprocess.run(
            [str(self.python()), "-c", code, *self.report], capture_output=True, text=True, check=True
        ).stdout
        return json.loads(out)


LITERT_TORCH = "litert-torch==0.10.0"
LITERT = PeerVenv(".venv-litert-torch", (TORCH,), (LITERT_TORCH,), ("litert-torch", "torch", "ai-edge-litert", "numpy"))

# The litert-torch peer, as bench/run.py, bench/artifacts.py and bench/export_memory.py use it.
VENV = LITERT.dir
python = LITERT.python
ensure = LITERT.ensure
versions = LITERT.versions


if __name__ == "__main__":
    print(ensure())

"""Run inside each emulated Python by tools/pythons.py (stdlib, numpy and the installed sqz only): the model's int8
outputs on both kernel sets into an .npz, and what ran them (Python, glibc, wheels, every shared object loaded)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys

import numpy as np

import sqz
from sqz.targets.probe import outputs

WHEELS = ("numpy", "ai-edge-litert", "onnxruntime", "pillow", "click")


def main(model: str, inputs: str, out: str) -> None:
    """Default and reference-kernel int8 steps of MODEL on INPUTS (.npy) into OUT (.npz); a JSON report on stdout."""
    x = np.load(inputs)
    got = {kind: outputs(model, x, reference=kind == "reference") for kind in ("default", "reference")}
    np.savez(out, **{kind: got[kind]["steps"] for kind in got})
    with open("/proc/self/maps") as maps:
        loaded = sorted({ln.split()[-1] for ln in maps if ".so" in ln.rsplit("/", 1)[-1]})
    print(
        json.dumps(
            {
                "python": platform.python_version(),
                "glibc": os.confstr("CS_GNU_LIBC_VERSION"),
                "machine": platform.machine(),
                "interpreter": got["default"]["interpreter"],
                "versions": {name: importlib.metadata.version(name) for name in WHEELS},
                "sqz": sqz.__file__,
                "loaded": loaded,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])

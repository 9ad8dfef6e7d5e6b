"""The fuzzer's cases: one damaged copy of a real artifact, or a foreign file, with the commands to run on it.

Used by tools/fuzz.py (run it as `python tools/fuzz.py`, which puts this folder on the path).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import random
from pathlib import Path

MUTATIONS = ("truncate", "bit flips", "insert", "delete", "zero", "swap", "smash int")
SEEDS = {
    "tflite int8": "model_int8.tflite",
    "tflite float32": "model_float32.tflite",
    "onnx": "model.onnx",
    "packed (container)": "model_int8.tflite.xz",
    "packed (model inside)": "model_int8.tflite.xz",
}
WEIGHTS = {
    "tflite int8": 30,
    "tflite float32": 8,
    "onnx": 12,
    "packed (container)": 8,
    "packed (model inside)": 10,
    "checkpoint": 22,
    "foreign": 10,
}
FOREIGN = ("empty", "png", "text", "random", "huge sparse", "tflite header only")
HUGE = (1 << 31) + 4096


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One damage of `data`; positions favour the first and last 8 KiB, where the tables and headers are."""
    b = bytearray(data)
    n = len(b)

    def pos() -> int:
        r = rng.random()
        if r < 0.35:
            return rng.randrange(min(n, 8192))
        if r < 0.7:
            return max(0, n - 1 - rng.randrange(min(n, 8192)))
        return rng.randrange(n)

    kind = rng.choice(MUTATIONS)
    if kind == "truncate":
        b = b[: rng.choice([rng.randrange(n), rng.randrange(min(n, 64)), n - 1 - rng.randrange(min(n, 64))])]
    elif kind == "bit flips":
        for _ in range(rng.choice([1, 1, 2, 4, 16])):
            b[pos()] ^= 1 << rng.randrange(8)
    elif kind == "insert":
        p = pos()
        b[p:p] = rng.randbytes(rng.choice([1, 4, rng.randint(1, 256)]))
    elif kind == "delete":
        p = pos()
        del b[p : p + rng.choice([1, 4, rng.randint(1, 256)])]
    elif kind == "zero":
        p = pos()
        size = rng.choice([4, 16, rng.randint(1, 4096)])
        b[p : p + size] = bytes(len(b[p : p + size]))
    elif kind == "swap":
        size = rng.randint(4, 1024)
        p, q = sorted(rng.randrange(max(1, n - size)) for _ in range(2))
        if q >= p + size:
            b[p : p + size], b[q : q + size] = b[q : q + size], b[p : p + size]
    else:
        p = pos() & ~3
        value = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, n, n - 4, rng.getrandbits(32), rng.getrandbits(8)])
        b[p : p + 4] = value.to_bytes(4, "little")
    return kind, bytes(b)


def foreign(kind: str, path: Path, rng: random.Random) -> None:
    """Write a file that is not a model at all (or only pretends to be one)."""
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "png":
        import numpy as np
        from PIL import Image

        Image.fromarray(np.random.default_rng(rng.getrandbits(32)).integers(0, 256, (28, 28), np.uint8)).save(
            path, format="PNG"
        )
    elif kind == "text":
        path.write_text("this is not a model\n" * rng.randint(1, 50))
    elif kind == "random":
        path.write_bytes(rng.randbytes(rng.choice([1, 7, 8, 64, 4096, 100000])))
    elif kind == "tflite header only":
        path.write_bytes(rng.randbytes(4) + b"TFL3" + rng.randbytes(rng.choice([0, 8, 64])))
    else:
        with open(path, "wb") as f:
            f.write(b"\x1c\x00\x00\x00TFL3")
            f.truncate(HUGE)


class Fuzzer:
    """Makes the cases from one export and one checkpoint, each in its own directory under `work`."""

    def __init__(self, export_dir: Path, checkpoint: Path, work: Path, seed: int, timeout: float) -> None:
        self.export_dir, self.checkpoint, self.work, self.timeout = export_dir, checkpoint, work, timeout
        self.rng = random.Random(seed)
        self.manifest = json.loads((export_dir / "manifest.json").read_text())
        self.seeds = {k: (export_dir / name).read_bytes() for k, name in SEEDS.items()}
        self.seeds["checkpoint"] = checkpoint.read_bytes()
        self.inner = lzma.decompress(self.seeds["packed (model inside)"])
        self.image = work / "image.png"
        foreign("png", self.image, self.rng)

    def make(self, i: int) -> tuple[dict, list[list[str]]]:
        """(case description, commands): the damaged file written under its own case directory."""
        case_dir = self.work / f"case{i:05d}"
        case_dir.mkdir()
        kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if kind == "foreign":
            what = self.rng.choice(FOREIGN)
            name = "model" + self.rng.choice([".tflite", ".onnx", ".pt", ".tflite.xz", ".bin"])
            path = case_dir / name
            foreign(what, path, self.rng)
            if name.endswith((".tflite", ".onnx", ".xz")):
                self._manifest(case_dir, name, path, huge=what == "huge sparse")
            return {"artifact": kind, "mutation": what}, self._commands(name, path)
        if kind == "checkpoint":
            mutation, data = mutate(self.seeds[kind], self.rng)
            path = case_dir / "model.pt"
            path.write_bytes(data)
            return {"artifact": kind, "mutation": mutation}, [["checkpoint", str(path)], ["check", str(path)]]
        name = SEEDS[kind]
        if kind == "packed (model inside)":
            mutation, inner = mutate(self.inner, self.rng)
            data = lzma.compress(inner, format=lzma.FORMAT_XZ, preset=0)
        else:
            mutation, data = mutate(self.seeds[kind], self.rng)
            inner = None
        path = case_dir / name
        path.write_bytes(data)
        self._manifest(case_dir, name, path, inner=inner)
        return {"artifact": kind, "mutation": mutation}, self._commands(name, path)

    def _commands(self, name: str, path: Path) -> list[list[str]]:
        cmds = [["check", str(path), "--budget", "10MB"]]
        if name.endswith((".tflite", ".onnx", ".xz")):
            cmds.append(["run", str(path), str(self.image)])
        if name.endswith(".pt"):
            cmds.append(["checkpoint", str(path)])
        return cmds

    def _manifest(self, case_dir: Path, name: str, path: Path, inner: bytes | None = None, huge: bool = False):
        """The export's manifest with the damaged file's own sha256, so `sqz run` gets past that check."""
        man = json.loads(json.dumps(self.manifest))
        digest = "0" * 64 if huge else hashlib.sha256(path.read_bytes()).hexdigest()
        base = name[: -len(".xz")] if name.endswith(".xz") else name
        entry = man["artifacts"].setdefault(base, dict(man["artifacts"]["model_int8.tflite"]))
        if name.endswith(".xz"):
            entry["packed"] = {**entry.get("packed", {}), "sha256": digest}
            if inner is not None:
                entry["sha256"] = hashlib.sha256(inner).hexdigest()
        else:
            entry["sha256"] = digest
        (case_dir / "manifest.json").write_text(json.dumps(man))

"""`sqz verify --target <micro>`, the C path: the model's generated C on this machine and on emulated Cortex-M4,
M7 and M55, every raw int8 output compared with ai-edge-litert's reference kernels."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sqz.runtime.manifest import Artifact, Manifest
from sqz.targets.micro import cfiles, cortexm

QEMU_IMAGES = 1000


@dataclass
class CRun:
    """One build of sqz_model.c: where it ran, how many outputs matched, instructions of one inference."""

    runner: str
    core: str
    images: int
    identical: int
    max_step: int
    instructions: int | None = None
    stack_bytes: int | None = None
    warnings: str = ""

    @property
    def ok(self) -> bool:
        return self.images > 0 and self.identical == self.images and self.max_step == 0


@dataclass
class CVerification:
    """The generated C against the reference kernels on every runner."""

    model: str
    source: str
    origin: str
    macs: int
    reference: str
    runs: list[CRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    def lines(self) -> list[str]:
        out = []
        for r in self.runs:
            what = "bit-identical" if r.ok else f"max {r.max_step} int8 steps apart"
            extra = ""
            if r.instructions:
                extra = (
                    f"; {r.instructions:,} instructions per inference ({r.instructions / self.macs:.2f} per MAC)"
                    f", stack {r.stack_bytes:,} B"
                )
            out.append(
                f"{'PASS' if r.ok else 'FAIL'}  C ({self.origin}) on {r.runner} ({r.core}) vs "
                f"{self.reference}: {r.identical}/{r.images} outputs identical, {what}{extra}"
            )
        return out

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "runs": [{**asdict(r), "ok": r.ok} for r in self.runs]}


def _compare(got: np.ndarray, ref: np.ndarray) -> tuple[int, int]:
    diff = np.abs(got.astype(np.int64) - ref.astype(np.int64)).reshape(len(ref), -1).max(axis=1)
    return int((diff == 0).sum()), int(diff.max()) if len(diff) else 0


def verify_c(
    model: Path,
    manifest: Manifest,
    entry: Artifact,
    x: np.ndarray,
    ref: np.ndarray,
    reference: str,
    generate: cfiles.Generator | None = None,
    machines: tuple[str, ...] = cortexm.VERIFY_MACHINES,
    qemu_images: int = QEMU_IMAGES,
    log=lambda msg: None,
) -> CVerification:
    """Build the model's C (the export's, else what `generate` writes) for the host and every machine; compare
    outputs on `x` (the host: all of them, qemu: the first `qemu_images`) with the outputs `ref` of `reference`."""
    start = time.monotonic()
    out_size = int(np.prod(ref.shape[1:]))
    with tempfile.TemporaryDirectory(prefix="sqz-c-") as tmp:
        work = Path(tmp)
        origin = cfiles.place(model, manifest, entry, work, generate)
        macs = cfiles.define((work / "sqz_model.h").read_text(), "SQZ_MACS")
        v = CVerification(str(model), f"{len(x)} images", origin, macs, reference)
        log(f"C on this machine: {len(x):,} images …")
        got, warnings = cfiles.run_host(work, x, out_size)
        v.runs.append(CRun("this machine", "host", len(x), *_compare(got, ref), warnings=warnings.strip()))
        sub, sub_ref = x[:qemu_images], ref[:qemu_images]
        for name in machines:
            m = cortexm.MACHINES[name]
            log(f"C on emulated {m.core} ({name}): {len(sub):,} images …")
            mdir = work / name
            mdir.mkdir()
            elf = mdir / "sqz_run.elf"
            warnings = cortexm.build([work / "sqz_model.c", work / "sqz_run.c"], work, m, elf)
            r = cortexm.run(elf, m, sub, out_size)
            v.runs.append(
                CRun(
                    name,
                    m.core,
                    len(sub),
                    *_compare(r.outputs, sub_ref),
                    r.instructions,
                    r.stack_bytes,
                    warnings.strip(),
                )
            )
    v.seconds = time.monotonic() - start
    return v

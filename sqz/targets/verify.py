"""`sqz verify`: run a model under qemu with real ARM Python and wheels, compare with this machine bit by bit."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sqz.errors import InputError, ToolError
from sqz.runtime import manifest as manifests
from sqz.targets import armenv
from sqz.targets.bundle import write_runtime
from sqz.targets.probe import outputs
from sqz.targets.profiles import Profile, for_arch, get
from sqz.targets.samples import sample_images


@dataclass
class Verification:
    """Emulated ARM vs this machine on the same images: top-1 and int8 output steps."""

    model: str
    arch: str
    machine: str
    target: str
    qemu_cpu: str
    interpreter: str
    images: int
    source: str
    top1_agree: int
    max_step_default: int
    max_step_reference: int | None
    seconds: float
    host_interpreter: str = ""

    @property
    def ok(self) -> bool:
        ref_ok = self.max_step_reference in (None, 0)
        return (self.machine == self.arch and self.top1_agree == self.images and self.max_step_default <= 1
                and ref_ok)

    def line(self) -> str:
        ref = ("" if self.max_step_reference is None else
               f", reference kernels {'bit-identical' if self.max_step_reference == 0 else f'max {self.max_step_reference} steps'}")
        host = f" vs {self.host_interpreter} here" if self.host_interpreter not in ("", self.interpreter) else ""
        return (f"{'PASS' if self.ok else 'FAIL'}  {self.arch} ({self.target}, qemu -cpu {self.qemu_cpu}, "
                f"{self.interpreter}{host}): top-1 {self.top1_agree}/{self.images} identical, default kernels max "
                f"{self.max_step_default} int8 step{'s' if self.max_step_default != 1 else ''}{ref} "
                f"on {self.source} ({self.seconds:.1f} s)")

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def _resolve(arch: str | None, target: str | None) -> Profile:
    if target:
        profile = get(target)
        if arch and arch != profile.arch:
            raise InputError(f"target {profile.name} is {profile.arch}, not {arch}; drop --arch or change it")
        return profile
    if not arch:
        raise InputError("give --arch aarch64|armv7l or --target NAME")
    return for_arch(arch)


def _model_file(model: Path) -> Path:
    model = Path(model)
    if model.is_dir():
        model = model / "model_int8.tflite"
    if model.suffix != ".tflite" or not model.is_file():
        raise InputError(f"{model}: give a .tflite model in an export directory (e.g. exports/default)")
    return model


def verify(model: Path, arch: str | None = None, target: str | None = None, images: list[Path] | None = None,
           samples: int = 32, interpreter: str | None = None, reference: bool = True,
           log=lambda msg: None) -> Verification:
    """Run MODEL on this machine and under emulated ARM on the same images; compare their outputs."""
    profile = _resolve(arch, target)
    model = _model_file(model)
    data, entry = manifests.entry_for(model)
    if entry.get("precision") != "int8":
        raise InputError(f"{model}: verify compares int8 outputs step by step; give the full-int8 model "
                         "(model_int8.tflite)")
    x, source = sample_images(data, samples, images)
    interp = interpreter or profile.interpreter
    if profile.arch == "armv7l" and interp == "ai-edge-litert":
        raise InputError("ai-edge-litert has no armv7l wheel; use --interpreter tflite-runtime")
    env = armenv.ensure(profile.arch, log)
    start = time.monotonic()
    kinds = [False, True] if reference else [False]
    host_interp, builtin = _host_interpreter(interp)
    host = {ref: outputs(str(model), x, profile.threads, host_interp, ref, builtin and not ref) for ref in kinds}
    with tempfile.TemporaryDirectory(prefix="sqz-verify-") as tmp:
        work = Path(tmp)
        write_runtime(work)
        np.save(work / "inputs.npy", x)
        arm = {ref: _emulated(env, profile, work, model, interp, ref) for ref in kinds}
    steps = {ref: int(np.abs(host[ref]["steps"].astype(np.int64) - arm[ref]["steps"]).max()) for ref in kinds}
    return Verification(str(model), profile.arch, arm[False]["report"]["machine"], profile.name, profile.qemu_cpu, interp, len(x), source,
                        int((host[False]["top1"] == arm[False]["top1"]).sum()), steps[False],
                        steps.get(True), time.monotonic() - start,
                        host_interp + (" (built-in kernels)" if builtin else ""))


def _host_interpreter(name: str) -> tuple[str, bool]:
    """(interpreter, built-in kernels only) to compute this machine's side: `name` where it runs here, else
    ai-edge-litert with the built-in kernels `name` runs on a board (tflite-runtime applies no XNNPACK to int8)."""
    from sqz.runtime.interpreters import tflite_interpreter_class

    try:
        tflite_interpreter_class(name)
        return name, False
    except ToolError:
        return "ai-edge-litert", True


def _emulated(env: armenv.Env, profile: Profile, work: Path, model: Path, interp: str, reference: bool) -> dict:
    out = work / f"out_{int(reference)}.npz"
    args = ["--model", str(model.resolve()), "--inputs", str(work / "inputs.npy"), "--out", str(out),
            "--threads", str(profile.threads), "--interpreter", interp] + (["--reference"] if reference else [])
    proc = subprocess.run(env.argv(profile.qemu_cpu, str(work / "probe.py"), *args), env=env.env([work / "lib"]),
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise ToolError(f"the emulated {profile.arch} run failed (exit {proc.returncode}): {' | '.join(tail)}")
    with np.load(out) as got:
        return {"steps": got["steps"].astype(np.int64), "top1": got["top1"],
                "report": json.loads(proc.stdout.strip().splitlines()[-1])}

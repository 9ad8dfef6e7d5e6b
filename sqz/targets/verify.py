"""`sqz verify`: run a model under qemu with real ARM Python and wheels, compare with this machine bit by bit.

Debian 13 (trixie, Python 3.13) and Debian 12 (bookworm, Python 3.11) userlands. What each (OS, arch) runs:
aarch64 on either: model_int8.tflite with ai-edge-litert (tflite-runtime on bookworm only); armv7l on bookworm:
model_int8.tflite with tflite-runtime; armv7l on trixie: model.onnx with Debian's python3-onnxruntime, because
no TFLite interpreter exists for armv7l on Python 3.13 (PyPI's tflite-runtime wheels stop at 3.11).
"""

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
from sqz.targets.artifact import NO_TFLITE, NO_WHEEL, check_os, default_os, onnx_file
from sqz.targets.bundle import write_runtime
from sqz.targets.probe import outputs
from sqz.targets.profiles import LinuxProfile, for_arch, get
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
    max_step_default: int | None
    max_step_reference: int | None
    seconds: float
    host_interpreter: str = ""
    os: str = ""
    artifact: str = "model_int8.tflite"
    why: str = ""
    max_rel_diff: float | None = None

    @property
    def ok(self) -> bool:
        if self.max_rel_diff is not None:  # a float model: same top-1, logits within ONNX_RTOL of the largest
            return self.machine == self.arch and self.top1_agree == self.images and self.max_rel_diff <= ONNX_RTOL
        ref_ok = self.max_step_reference in (None, 0)
        return self.machine == self.arch and self.top1_agree == self.images and self.max_step_default <= 1 and ref_ok

    def line(self) -> str:
        host = f" vs {self.host_interpreter} here" if self.host_interpreter not in ("", self.interpreter) else ""
        where = f"{self.arch} Debian {self.os} (Python {armenv.OSES[self.os].python})" if self.os else self.arch
        head = (
            f"{'PASS' if self.ok else 'FAIL'}  {where} ({self.target}, qemu -cpu {self.qemu_cpu}, "
            f"{self.interpreter}{host}): {self.artifact}{f' ({self.why})' if self.why else ''}: "
            f"top-1 {self.top1_agree}/{self.images} identical, "
        )
        if self.max_rel_diff is not None:
            return (
                f"{head}float logits max |diff| {self.max_rel_diff:.1e} of the largest logit "
                f"on {self.source} ({self.seconds:.1f} s)"
            )
        ref = ""
        if self.max_step_reference is not None:
            same = self.max_step_reference == 0
            ref = f", reference kernels {'bit-identical' if same else f'max {self.max_step_reference} steps'}"
        return (
            f"{head}default kernels max {self.max_step_default} int8 step"
            f"{'s' if self.max_step_default != 1 else ''}{ref} on {self.source} ({self.seconds:.1f} s)"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


ONNX_RTOL = 1e-4  # float logits, emulated vs this machine: max |diff| over the largest |logit|


def _resolve(arch: str | None, target: str | None) -> LinuxProfile:
    if target:
        profile = get(target, "linux")
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


def verify(
    model: Path,
    arch: str | None = None,
    target: str | None = None,
    images: list[Path] | None = None,
    samples: int = 32,
    interpreter: str | None = None,
    reference: bool = True,
    log=lambda msg: None,
    os: str | None = None,
) -> Verification:
    """Run MODEL on this machine and under emulated ARM on the same images; compare their outputs.

    `os`: the emulated Debian release, trixie or bookworm (default: `default_os`, trixie where it runs the
    int8 file). armv7l on trixie verifies the export's model.onnx with onnxruntime instead (float logits)."""
    profile = _resolve(arch, target)
    check_os(os)
    if (os, profile.arch) in NO_TFLITE:
        if interpreter:
            raise InputError(
                f"--interpreter {interpreter}: {NO_TFLITE[(os, profile.arch)]}; armv7l on Debian "
                f"{os} verifies model.onnx with onnxruntime (drop --interpreter), or use --os bookworm"
            )
        return _verify_onnx(onnx_file(model), profile, os, images, samples, log)
    if Path(model).suffix == ".onnx":
        raise InputError(
            f"{model}: only armv7l on Debian trixie runs model.onnx (--arch armv7l --os trixie); "
            "elsewhere verify the int8 .tflite (give the export directory)"
        )
    model = _model_file(model)
    data, entry = manifests.entry_for(model)
    if entry.precision != "int8":
        raise InputError(
            f"{model}: verify compares int8 outputs step by step; give the full-int8 model (model_int8.tflite)"
        )
    x, source = sample_images(data, samples, images)
    interp = interpreter or profile.interpreter
    if profile.arch == "armv7l" and interp == "ai-edge-litert":
        raise InputError("ai-edge-litert has no armv7l wheel; use --interpreter tflite-runtime")
    why = ""
    if os is None:
        os = default_os(profile.arch, interp)
        if os != "trixie":
            why = f"Debian {os} by default: " + (
                f"{NO_TFLITE[('trixie', profile.arch)]}; --os trixie verifies model.onnx"
                if ("trixie", profile.arch) in NO_TFLITE
                else NO_WHEEL[("trixie", interp)]
            )
    if (os, interp) in NO_WHEEL:
        raise InputError(f"--interpreter {interp} on Debian {os}: {NO_WHEEL[(os, interp)]}; use --os bookworm")
    env = armenv.ensure(profile.arch, log, os)
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
    return Verification(
        str(model),
        profile.arch,
        arm[False]["report"]["machine"],
        profile.name,
        profile.qemu_cpu,
        interp,
        len(x),
        source,
        int((host[False]["top1"] == arm[False]["top1"]).sum()),
        steps[False],
        steps.get(True),
        time.monotonic() - start,
        host_interp + (" (built-in kernels)" if builtin else ""),
        os,
        model.name,
        why,
    )


def _verify_onnx(
    model: Path, profile: LinuxProfile, os: str, images: list[Path] | None, samples: int, log
) -> Verification:
    """armv7l on trixie: the export's model.onnx through Debian's onnxruntime vs this machine's onnxruntime."""
    data, _ = manifests.entry_for(model)
    x, source = sample_images(data, samples, images)
    why = NO_TFLITE[(os, profile.arch)]
    log(f"armv7l on Debian {os}: verifying {model.name} with Debian's python3-onnxruntime ({why})")
    env = armenv.ensure(profile.arch, log, os)
    start = time.monotonic()
    host = outputs(str(model), x, profile.threads)
    with tempfile.TemporaryDirectory(prefix="sqz-verify-") as tmp:
        work = Path(tmp)
        write_runtime(work)
        np.save(work / "inputs.npy", x)
        arm = _emulated(env, profile, work, model, None, False)
    scale = float(np.abs(host["logits"]).max()) or 1.0
    rel = float(np.abs(host["logits"].astype(np.float64) - arm["logits"]).max()) / scale
    return Verification(
        str(model),
        profile.arch,
        arm["report"]["machine"],
        profile.name,
        profile.qemu_cpu,
        arm["report"]["interpreter"],
        len(x),
        source,
        int((host["top1"] == arm["top1"]).sum()),
        None,
        None,
        time.monotonic() - start,
        host["interpreter"],
        os,
        model.name,
        why,
        rel,
    )


def _host_interpreter(name: str) -> tuple[str, bool]:
    """(interpreter, built-in kernels only) to compute this machine's side: `name` where it runs here, else
    ai-edge-litert with the built-in kernels `name` runs on a board (tflite-runtime applies no XNNPACK to int8)."""
    from sqz.runtime.interpreters import tflite_interpreter_class

    try:
        tflite_interpreter_class(name)
        return name, False
    except ToolError:
        return "ai-edge-litert", True


def _emulated(
    env: armenv.Env, profile: LinuxProfile, work: Path, model: Path, interp: str | None, reference: bool
) -> dict:
    out = work / f"out_{int(reference)}.npz"
    args = (
        [
            "--model",
            str(model.resolve()),
            "--inputs",
            str(work / "inputs.npy"),
            "--out",
            str(out),
            "--threads",
            str(profile.threads),
        ]
        + (["--interpreter", interp] if interp else [])
        + (["--reference"] if reference else [])
    )
    proc = subprocess.run(
        env.argv(profile.qemu_cpu, str(work / "probe.py"), *args),
        env=env.env([work / "lib"]),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 or not out.is_file():
        tail = [ln for ln in (proc.stdout + proc.stderr).strip().splitlines() if not _noise(ln)][-3:]
        raise ToolError(
            f"the emulated {profile.arch} {env.os.name} run failed (exit {proc.returncode}): {' | '.join(tail)}"
        )
    report = json.loads([ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")][-1])
    with np.load(out) as got:
        arrays = {"top1": got["top1"], "report": report}
        if "steps" in got:
            arrays["steps"] = got["steps"].astype(np.int64)
        if "logits" in got:
            arrays["logits"] = got["logits"].astype(np.float64)
        return arrays


def _noise(line: str) -> bool:
    """Debian trixie's onnxruntime 1.21 prints "Schema error: … already registered" lines on import."""
    return "Schema error" in line or "already registered" in line

"""Build C for an emulated Cortex-M board with arm-none-eabi-gcc + picolibc and run it under qemu-system-arm:
raw outputs through semihosting files, instructions of the first inference from SysTick under `-icount shift=0`,
the stack sqz_invoke used by painting, flash and RAM from the ELF."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from sqz.errors import ToolError

GCC, SIZE, QEMU = "arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"
PACKAGES = "gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm"
CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-ffunction-sections", "-fdata-sections")
RUN_TIMEOUT_S = 300


@dataclass(frozen=True)
class Machine:
    """One qemu board: its core, the memory the linker may use, and instructions per SysTick tick (-icount 0)."""

    name: str
    core: str
    cpu: str
    flash: tuple[int, int]
    ram: tuple[int, int]
    instructions_per_tick: float


# Memory maps of qemu 7.2's boards (an500's RAM sits at 0x60000000; an505 boots secure from its SSRAM at
# 0x10000000, RAM at 0x38000000; an547's ITCM/DTCM are 512 KB each). SysTick counts SYSCLK: 25 MHz on the
# mps2 boards but 20 MHz on the an505 and 32 MHz on the an547, against qemu's 1 GHz instruction clock.
MACHINES = {
    "mps2-an386": Machine("mps2-an386", "Cortex-M4", "cortex-m4", (0x0, 4 << 20), (0x20000000, 4 << 20), 40.0),
    "mps2-an500": Machine("mps2-an500", "Cortex-M7", "cortex-m7", (0x0, 4 << 20), (0x60000000, 16 << 20), 40.0),
    "mps2-an505": Machine("mps2-an505", "Cortex-M33", "cortex-m33", (0x10000000, 4 << 20), (0x38000000, 2 << 20), 50.0),
    "mps3-an547": Machine("mps3-an547", "Cortex-M55", "cortex-m55", (0x0, 512 << 10), (0x20000000, 512 << 10), 31.25),
}
VERIFY_MACHINES = ("mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547")


@dataclass
class Run:
    """What one program run printed and wrote."""

    outputs: np.ndarray
    images: int
    instructions: int | None
    stack_bytes: int | None
    seconds: float


def tools_missing() -> list[str]:
    """The cross compiler and emulator commands not on PATH."""
    return [t for t in (GCC, SIZE, QEMU) if shutil.which(t) is None]


def require_tools() -> None:
    missing = tools_missing()
    if missing:
        raise ToolError(f"{', '.join(missing)} not found; apt-get install {PACKAGES} (make setup does)")


def runner_source() -> Path:
    """sqz_run.c: the semihosting program that classifies sqz_in.bin into sqz_out.bin."""
    return Path(str(resources.files("sqz.targets.micro").joinpath("c/sqz_run.c")))


def _run(cmd: list[str], cwd: Path, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{cmd[0]} did not finish in {timeout:.0f} s") from None


def build(
    sources: list[Path],
    include: Path,
    machine: Machine,
    elf: Path,
    defines: tuple[str, ...] = (),
    flash: int | None = None,
    ram: int | None = None,
) -> str:
    """Compile and link `sources` for `machine` (memory capped at `flash`/`ram` bytes when given); the
    compiler's warnings (empty when clean)."""
    require_tools()
    fsize, rsize = flash or machine.flash[1], ram or machine.ram[1]
    cmd = [
        GCC,
        f"-mcpu={machine.cpu}",
        "-mthumb",
        "-mfloat-abi=hard",
        *CFLAGS,
        *(f"-D{d}" for d in defines),
        f"-I{include}",
        "--specs=picolibc.specs",
        "--oslib=semihost",
        "--crt0=semihost",
        "-Wl,--gc-sections",
        f"-Wl,--defsym=__flash={machine.flash[0]:#x},--defsym=__flash_size={fsize},"
        f"--defsym=__ram={machine.ram[0]:#x},--defsym=__ram_size={rsize}",
        *map(str, sources),
        "-o",
        str(elf),
    ]
    r = _run(cmd, elf.parent)
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines() or [""]
        why = next((ln for ln in lines if "overflowed" in ln or "will not fit" in ln), lines[-1])
        raise ToolError(f"{GCC} failed for {machine.name}: {why.split(': ', 1)[-1]}")
    return r.stderr


def qemu_command(machine: Machine, elf: str, icount: bool = True) -> list[str]:
    """qemu-system-arm running `elf` on `machine` with semihosting (files and console on the host), no display;
    `icount`: one instruction per virtual-clock tick, so SysTick counts instructions."""
    return [
        QEMU,
        "-M",
        machine.name,
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        *(["-icount", "shift=0"] if icount else []),
        "-kernel",
        elf,
    ]


def run(elf: Path, machine: Machine, inputs: np.ndarray, out_size: int) -> Run:
    """Run `elf` on `machine` with `inputs` (N, ...) int8 in sqz_in.bin; its outputs (N, out_size) and figures."""
    work = elf.parent
    (work / "sqz_in.bin").write_bytes(np.ascontiguousarray(inputs, np.int8).tobytes())
    (work / "sqz_out.bin").unlink(missing_ok=True)
    start = time.monotonic()
    r = _run(qemu_command(machine, elf.name), work)
    seconds = time.monotonic() - start
    printed = (r.stdout + r.stderr).splitlines()  # qemu writes the semihosting console to stderr
    line = next((ln for ln in printed if ln.startswith("sqz_run ")), "")
    if r.returncode != 0 or not line:
        raise ToolError(
            f"{machine.name}: the program exited {r.returncode} "
            f"({(r.stdout + r.stderr).strip().splitlines()[-1:] or ['no output']})"
        )
    fields = dict(kv.split("=") for kv in line.split()[1:])
    ticks = int(fields["ticks"])
    raw = np.frombuffer((work / "sqz_out.bin").read_bytes(), np.int8)
    images = int(fields["images"])
    return Run(
        raw.reshape(images, out_size) if images else raw.reshape(0, out_size),
        images,
        None if ticks < 0 or fields["wrapped"] != "0" else round(ticks * machine.instructions_per_tick),
        int(fields["stack"]) if int(fields["stack"]) >= 0 else None,
        seconds,
    )


def sizes(path: Path) -> dict[str, int]:
    """text (code + read-only data), data and bss bytes of an object or ELF (arm-none-eabi-size)."""
    r = _run([SIZE, str(path)], path.parent)
    if r.returncode != 0:
        raise ToolError(f"{SIZE} failed on {path.name}")
    text, data, bss = (int(v) for v in r.stdout.splitlines()[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def compile_object(source: Path, include: Path, machine: Machine, obj: Path, defines: tuple[str, ...] = ()) -> str:
    """Compile one C file to an object for `machine`; the warnings."""
    require_tools()
    r = _run(
        [
            GCC,
            f"-mcpu={machine.cpu}",
            "-mthumb",
            "-mfloat-abi=hard",
            *CFLAGS,
            *(f"-D{d}" for d in defines),
            f"-I{include}",
            "-c",
            str(source),
            "-o",
            str(obj),
        ],
        obj.parent,
    )
    if r.returncode != 0:
        raise ToolError(f"{GCC} failed on {source.name}: {(r.stderr.strip().splitlines() or [''])[-1]}")
    return r.stderr

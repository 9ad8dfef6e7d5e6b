"""Flash, RAM and instructions of the generated C for a board, measured: sqz_model.c compiled for the board's core
(arm-none-eabi-size on the object), and run once on the emulated board of that core for the stack high-water
mark (painted) and the instructions of one inference (SysTick under -icount)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sqz.targets.micro import cfiles, cortexm
from sqz.targets.profiles import MicroProfile, get

# The emulated board that runs each core's build.
CORE_MACHINES = {
    "cortex-m4": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
}


@dataclass
class CBuild:
    """Measured figures of sqz_model.c for one board's core."""

    target: str
    cpu: str
    flash_bytes: int
    static_ram_bytes: int
    arena_bytes: int
    io_bytes: int
    stack_bytes: int | None
    instructions: int | None
    macs: int
    machine: str | None

    @property
    def ram_bytes(self) -> int:
        """Static data + stack high-water mark + the application's input and output buffers."""
        return self.static_ram_bytes + (self.stack_bytes or 0) + self.io_bytes

    def to_dict(self) -> dict:
        return {**asdict(self), "ram_bytes": self.ram_bytes}


def measure(sources: Path, target: str | MicroProfile, defines: tuple[str, ...] = ()) -> CBuild | None:
    """Figures for sqz_model.c/.h in `sources` on `target`'s core; None for a board without an Arm core or
    without the cross tools."""
    profile = target if isinstance(target, MicroProfile) else get(target, "micro")
    if not profile.gcc_cpu or cortexm.tools_missing():
        return None
    header = (sources / "sqz_model.h").read_text()
    machine_name = CORE_MACHINES.get(profile.gcc_cpu)
    cpu_machine = cortexm.Machine(profile.gcc_cpu, profile.core, profile.gcc_cpu, (0, 0), (0, 0), 0.0)
    with tempfile.TemporaryDirectory(prefix="sqz-measure-") as tmp:
        work = Path(tmp)
        for name in ("sqz_model.c", "sqz_model.h"):
            shutil.copy(sources / name, work / name)
        cortexm.compile_object(work / "sqz_model.c", work, cpu_machine, work / "sqz_model.o", defines)
        size = cortexm.sizes(work / "sqz_model.o")
        stack = instructions = None
        if machine_name:
            m = cortexm.MACHINES[machine_name]
            shutil.copy(cortexm.runner_source(), work / "sqz_run.c")
            elf = work / "sqz_run.elf"
            cortexm.build([work / "sqz_model.c", work / "sqz_run.c"], work, m, elf, defines)
            x = np.zeros((1, cfiles.define(header, "SQZ_INPUT_SIZE")), np.int8)
            r = cortexm.run(elf, m, x, cfiles.define(header, "SQZ_OUTPUT_SIZE"))
            stack, instructions = r.stack_bytes, r.instructions
    io = cfiles.define(header, "SQZ_INPUT_SIZE") + cfiles.define(header, "SQZ_OUTPUT_SIZE")
    return CBuild(
        profile.name,
        profile.gcc_cpu,
        size["text"] + size["data"],
        size["data"] + size["bss"],
        cfiles.define(header, "SQZ_ARENA_BYTES"),
        io,
        stack,
        instructions,
        cfiles.define(header, "SQZ_MACS"),
        machine_name,
    )

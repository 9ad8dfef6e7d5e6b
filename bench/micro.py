"""Microcontroller figures of the generated C against TensorFlow Lite Micro: flash, RAM, arena and instructions per
inference on emulated Cortex-M4/M7/M33/M55, for the default export and a 96² RGB SqueezeNet 1.1 (random weights: the
instruction count does not depend on the values). Writes docs/bench/micro.{json,md} and refreshes docs/micro.md.

python -m bench.micro   (after `make export`; needs gcc-arm-none-eabi, picolibc-arm-none-eabi, qemu-system-arm)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from sqz.errors import ToolError
from sqz.export import csource
from sqz.export.synthetic import random_int8
from sqz.files import write_text
from sqz.runtime import manifest as manifests
from sqz.targets.micro import cfiles, cmeasure, cortexm, tflm
from sqz.targets.profiles import board_arena
from sqz.train.arch import ArchConfig

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench"
BUILDS = {"DSP": (), "plain C": ("SQZ_NO_DSP",), "reference loops": ("SQZ_REFERENCE_LOOPS",)}


def _model_sources(name: str) -> tuple[bytes, list[str], dict, dict]:
    """(.tflite bytes, labels, preprocess, io) of a bench model."""
    if name == "default":
        d = ROOT / "exports" / "default"
        man = manifests.read(d)
        return (
            (d / "model_int8.tflite").read_bytes(),
            list(man.labels),
            man.preprocess.to_dict(),
            man.artifacts["model_int8.tflite"].io,
        )
    content = random_int8(ArchConfig(num_classes=10, in_channels=3), 96, seed=0)
    from sqz.export.cgraph import read

    t = read(content).tensors[read(content).input]
    pre = {"size": 96, "content": 96, "channels": 3, "mean": [0.5] * 3, "std": [0.25] * 3, "resize": "squash"}
    return content, [f"class {i}" for i in range(10)], pre, {"input": {"scale": t.scale, "zero_point": t.zero}}


def _instructions(work: Path, machine: cortexm.Machine, defines: tuple[str, ...], size: int, out: int) -> int | str:
    """Instructions of one inference, or why the program does not fit the board."""
    elf = work / f"run_{machine.name}_{'_'.join(defines) or 'dsp'}.elf"
    try:
        cortexm.build([work / "sqz_model.c", work / "sqz_run.c"], work, machine, elf, defines)
    except ToolError as e:
        if "will not fit" not in str(e):
            raise
        return f"code + weights over its {machine.flash[1] >> 10} KB code memory"
    x = np.random.default_rng(0).integers(-128, 128, (1, size), dtype=np.int8)
    return cortexm.run(elf, machine, x, out).instructions


def measure(name: str) -> dict:
    """Every figure of one model."""
    content, labels, pre, io = _model_sources(name)
    src = csource.generate(content, labels, pre, io, "bench")
    with tempfile.TemporaryDirectory(prefix="sqz-bench-micro-") as tmp:
        work = Path(tmp)
        csource.write(work, src)
        (work / "sqz_run.c").write_text(cortexm.runner_source().read_text())
        header = (work / "sqz_model.h").read_text()
        size = cfiles.define(header, "SQZ_INPUT_SIZE")
        out = cfiles.define(header, "SQZ_OUTPUT_SIZE")
        m4 = cortexm.MACHINES["mps2-an386"]
        builds = {b: _instructions(work, m4, d, size, out) for b, d in BUILDS.items()}
        cores = {
            cortexm.MACHINES[n].core: _instructions(work, cortexm.MACHINES[n], (), size, out)
            for n in ("mps2-an500", "mps2-an505", "mps3-an547")
        }
        c = cmeasure.measure(work, "nano33ble").to_dict()
    host = tflm.smallest_arena(content)
    io_bytes = size + out
    return {
        "model": name,
        "bytes": len(content),
        "macs": src.macs,
        "c": c,
        "m4_instructions": builds,
        "instructions_other_cores": cores,
        "tflm": {
            "host_arena": host,
            "board_arena": board_arena(host),
            "io_bytes": io_bytes,
            "ram_bytes": board_arena(host) + io_bytes,
            "flash_model_bytes": -(-len(content) // 16) * 16,
        },
    }


def markdown(rows: list[dict]) -> str:
    """The tables of docs/bench/micro.md."""
    names = {"default": "default (32² grey, 10 classes)", "rgb96": "96² RGB, 10 classes"}
    lines = [
        "Flash and RAM for a Cortex-M4 (Arduino Nano 33 BLE Sense profile), `python -m bench.micro`:",
        "",
        "| model | .tflite | C flash | TFLite Micro flash | C RAM | TFLite Micro RAM | C arena | C stack |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c, t = r["c"], r["tflm"]
        lines.append(
            f"| {names[r['model']]} | {r['bytes']:,} B | {c['flash_bytes']:,} B | "
            f"{t['flash_model_bytes']:,} B + library | {c['ram_bytes']:,} B | {t['ram_bytes']:,} B | "
            f"{c['arena_bytes']:,} B | {c['stack_bytes']:,} B |"
        )
    lines += [
        "",
        "C RAM = static data + stack high-water mark + input/output buffers; TFLite Micro RAM = its arena "
        "measured on the host + 10 % + the same buffers.",
        "",
        "Instructions per inference (emulated, qemu `-icount shift=0`, SysTick):",
        "",
        "| model | MACs | M4 DSP | M4 plain C | M4 reference loops | DSP vs plain C | DSP vs reference | "
        "M7 DSP | M33 DSP | M55 DSP |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        b, o, macs = r["m4_instructions"], r["instructions_other_cores"], r["macs"]

        def per(n: int | str, macs: int = macs) -> str:
            return f"{n:,} ({n / macs:.2f}/MAC)" if isinstance(n, int) else f"— ({n})"

        lines.append(
            f"| {names[r['model']]} | {macs:,} | {per(b['DSP'])} | {per(b['plain C'])} | "
            f"{per(b['reference loops'])} | {b['plain C'] / b['DSP']:.2f}× | "
            f"{b['reference loops'] / b['DSP']:.2f}× | {per(o['Cortex-M7'])} | {per(o['Cortex-M33'])} | "
            f"{per(o['Cortex-M55'])} |"
        )
    lines += [
        "",
        "DSP: SMLAD/SXTB16 dot products (`__ARM_FEATURE_DSP`); plain C: the same kernels with `SQZ_NO_DSP` "
        "(the path of cores without DSP and of the host); reference loops: `SQZ_REFERENCE_LOOPS`, TFLite's "
        "reference loop order (one output value at a time, the input offset added per tap). arm-none-eabi-gcc "
        "-O2, picolibc. The 96² model has random weights.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    cortexm.require_tools()
    rows = [measure(n) for n in ("default", "rgb96")]
    OUT.mkdir(parents=True, exist_ok=True)
    write_text(OUT / "micro.json", json.dumps(rows, indent=2) + "\n")
    write_text(OUT / "micro.md", markdown(rows))
    sys.path.insert(0, str(ROOT))
    from tools import readme

    readme.update(paths=["docs/bench/micro.md"])
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

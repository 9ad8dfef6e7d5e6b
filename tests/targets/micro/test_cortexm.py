"""The generated C on emulated Cortex-M4/M7/M33/M55: bit-identical to the reference kernels, measured flash/RAM/stack,
used by the gate, and the docs' Arduino sketch built against sqz_model.c."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqz.cli import main
from sqz.export import csource
from sqz.targets.micro import cmeasure, cortexm, gate
from sqz.targets.micro.verify import verify

ROOT = Path(__file__).resolve().parents[3]
ARDUINO = ROOT / "tests" / "fixtures" / "arduino"


@pytest.fixture(scope="module")
def c_export(int8_model, tmp_path_factory) -> Path:
    """The tiny export with sqz_model.c/.h beside its int8 model, as sqz-export --target writes them."""
    d = tmp_path_factory.mktemp("c_export")
    for name in ("model_int8.tflite", "manifest.json", "report.json"):
        shutil.copy(int8_model.parent / name, d / name)
    data = json.loads((d / "manifest.json").read_text())
    entry = data["artifacts"]["model_int8.tflite"]
    csource.write(
        d,
        csource.generate(
            (d / "model_int8.tflite").read_bytes(), data["labels"], data["preprocess"], entry["io"], entry["sha256"]
        ),
    )
    return d


def test_c_is_bit_identical_on_the_host_and_emulated_m4_m7_m33_m55(c_export):
    v = verify(c_export / "model_int8.tflite", "nano33ble", samples=32)
    assert v.ok and v.c is not None and v.c.origin == "the export's sqz_model.c"
    runs = {r.runner: r for r in v.c.runs}
    assert set(runs) == {"this machine", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547"}
    for name in cortexm.VERIFY_MACHINES:
        r = runs[name]
        assert r.ok and r.images == r.identical == 32 and r.warnings == ""
        assert 0.5 * v.c.macs < r.instructions < 20 * v.c.macs and 0 < r.stack_bytes < 4096
    assert [line.startswith("PASS") for line in v.lines()] == [True] * 6


def test_a_wrong_weight_in_the_c_fails_verification(c_export, tmp_path):
    d = tmp_path / "bad"
    shutil.copytree(c_export, d)
    src = (d / "sqz_model.c").read_text()
    m = re.search(r"static const int32_t bi0\[\d+\] = \{\n    (-?\d+)", src)
    src = src[: m.start(1)] + str(int(m.group(1)) + 50_000) + src[m.end(1) :]
    (d / "sqz_model.c").write_text(src)
    out = CliRunner().invoke(main, ["verify", str(d), "--target", "pico2", "--samples", "8"])
    assert out.exit_code == 1
    assert re.search(r"FAIL  C \(the export's sqz_model.c\) on mps2-an386", out.output)


def test_measured_flash_and_ram_beat_tflite_micro(c_export):
    b = cmeasure.measure(c_export, "nano33ble")
    v = gate.check(c_export / "model_int8.tflite", "nano33ble")
    model_bytes = (c_export / "model_int8.tflite").stat().st_size
    assert b.cpu == "cortex-m4" and b.machine == "mps2-an386" and b.stack_bytes > 0 and b.instructions > b.macs
    assert b.flash_bytes <= model_bytes + 16 * 1024
    assert b.ram_bytes <= 0.6 * v.ram_bytes  # TFLite Micro: board arena + I/O
    assert b.static_ram_bytes >= b.arena_bytes


def test_check_reads_the_c_build_when_it_is_beside_the_model(c_export, tmp_path):
    out = CliRunner().invoke(main, ["check", str(c_export / "model_int8.tflite"), "--target", "nano33ble", "--json"])
    assert out.exit_code == 0, out.output
    v = json.loads(out.output)["artifacts"][0]
    assert v["c"]["cpu"] == "cortex-m4" and v["c"]["flash_bytes"] < v["flash_bytes"]
    text = CliRunner().invoke(main, ["check", str(c_export / "model_int8.tflite"), "--target", "nano33ble"]).output
    assert f"flash {v['c']['flash_bytes']:,} B" in text and "sqz_model.c static" in text
    other = tmp_path / "other"
    shutil.copytree(c_export, other)
    (other / "sqz_model.h").write_text((other / "sqz_model.h").read_text().replace("sha256 ", "sha256 0", 1))
    assert gate.check(other / "model_int8.tflite", "nano33ble").c is None  # C of another model: not its figures


def _sketch() -> str:
    text = (ROOT / "docs" / "micro.md").read_text()
    return re.search(r"<!-- sketch: Arduino -->\n```cpp\n(.*?)```", text, re.S).group(1)


def test_the_arduino_sketch_in_the_docs_compiles_and_runs_on_a_cortex_m4(c_export, tmp_path):
    """The docs' sketch as its .cpp, against a stand-in for the Arduino core, linked with sqz_model.c."""
    shutil.copy(c_export / "sqz_model.c", tmp_path)
    shutil.copy(c_export / "sqz_model.h", tmp_path)
    (tmp_path / "sketch.cpp").write_text(_sketch())
    m = cortexm.MACHINES["mps2-an386"]
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-O2", "-Wall", "-Wextra", f"-I{ARDUINO}", "-I."]
    link = [
        "--specs=picolibcpp.specs",
        "--oslib=semihost",
        "--crt0=semihost",
        f"-Wl,--defsym=__flash=0x0,--defsym=__flash_size={1 << 20},--defsym=__ram={m.ram[0]:#x},"
        f"--defsym=__ram_size={256 << 10}",
    ]
    for cmd in (
        ["arm-none-eabi-gcc", *flags, "-std=c99", "-c", "sqz_model.c"],
        ["arm-none-eabi-g++", *flags, "-fno-exceptions", "-fno-rtti", "-c", "sketch.cpp"],
        ["arm-none-eabi-g++", *flags, "-fno-exceptions", "-fno-rtti", "-c", str(ARDUINO / "main.cpp")],
        ["arm-none-eabi-g++", *flags, *link, "sketch.o", "main.o", "sqz_model.o", "-o", "sketch.elf"],
    ):
        r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0 and "warning" not in r.stderr, r.stderr[-1500:]
    r = subprocess.run(
        cortexm.qemu_command(m, "sketch.elf", icount=False),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    labels = json.loads((c_export / "manifest.json").read_text())["labels"]
    printed = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and any(printed.startswith(label + " ") for label in labels), printed


def test_verify_without_the_cross_tools_says_what_to_install_in_one_line(c_export, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    out = CliRunner().invoke(main, ["verify", str(c_export), "--target", "nano33ble", "--samples", "4"])
    assert out.exit_code == 2
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and "arm-none-eabi-gcc" in lines[0] and "apt-get install" in lines[0]

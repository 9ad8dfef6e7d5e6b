"""`sqz check --target <micro>`: flash and RAM on the real int8 export; offset buffers and missing ops refused."""

import dataclasses

import numpy as np
from click.testing import CliRunner

from sqz.cli import main
from sqz.targets import profiles
from sqz.targets.micro import gate
from sqz.targets.micro.verify import compare


def test_real_int8_model_fits_the_nano_with_a_measured_arena(int8_model):
    v = gate.check(int8_model, "nano33ble")
    size = int8_model.stat().st_size
    assert v.fits and not v.refused
    assert size <= v.flash_bytes < size + 16 and v.flash_bytes % 16 == 0
    assert 10_000 < v.host_arena < v.arena == profiles.board_arena(v.host_arena)
    assert v.io_bytes == 32 * 32 * 1 + 10
    assert all(line.startswith("PASS") for line in v.lines())
    packed = gate.check(int8_model.with_name("model_int8.tflite.xz"), "nano33ble")
    assert (packed.flash_bytes, packed.host_arena, packed.fits) == (v.flash_bytes, v.host_arena, True)


def test_ram_over_budget_names_ram_and_by_how_much(int8_model):
    tight = dataclasses.replace(profiles.get("nano33ble", "micro"), ram_budget=20_000)
    v = gate.check(int8_model, tight)
    assert not v.fits
    flash, ram = v.lines()
    assert flash.startswith("PASS") and "flash" in flash
    assert ram.startswith("FAIL") and " RAM " in ram and f"over by {v.ram_bytes - 20_000:,} B" in ram


def test_cli_exit_1_names_the_flash_budget(tiny_export):
    out = CliRunner().invoke(main, ["check", str(tiny_export[0] / "model_float32.tflite"), "--target", "nano33ble"])
    assert out.exit_code == 1
    assert "FAIL" in out.output and "flash" in out.output and "over by" in out.output


def test_offset_stored_buffers_are_refused_in_one_line(offset_model):
    out = CliRunner().invoke(main, ["check", str(offset_model), "--target", "pico2"])
    assert out.exit_code == 1
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and "stored after the flatbuffer by offset" in lines[0]


def test_offset_stored_buffers_really_run_wrong_in_tflite_micro(offset_model, int8_model):
    """Why the gate refuses them: the reference kernels read them right, TFLite Micro does not."""
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(4, 32, 32, 1), dtype=np.int8)
    identical, _, _ = compare(int8_model.read_bytes(), x)
    assert identical == 4
    identical, step, _ = compare(offset_model.read_bytes(), x)
    assert identical < 4 and step > 0


def test_an_op_tflite_micro_lacks_is_refused(missing_op_model):
    out = CliRunner().invoke(main, ["check", str(missing_op_model), "--target", "nano33ble"])
    assert out.exit_code == 1
    assert out.output.count("\n") == 1 and "no kernel for LSH_PROJECTION" in out.output


def test_micro_target_refuses_a_linux_budget(int8_model):
    out = CliRunner().invoke(main, ["check", str(int8_model), "--target", "nano33ble", "--budget", "1MB"])
    assert out.exit_code == 2 and "drop --budget" in out.output

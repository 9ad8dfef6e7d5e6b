"""Microcontroller profiles: complete, sourced, budgets inside the chip, listed by `sqz targets`."""

import json

from click.testing import CliRunner

from sqz.cli import main
from sqz.targets import profiles

FIGURES = ("soc", "core", "clock_mhz", "flash_bytes", "sram_bytes")


def test_the_four_boards_with_a_source_for_every_figure():
    items = {p.name: p for p in profiles.micro_profiles()}
    assert set(items) == {"nano33ble", "pico2", "esp32s3", "portenta-h7"}
    nano = items["nano33ble"]
    assert (nano.soc, nano.clock_mhz, nano.flash_bytes, nano.sram_bytes) == ("nRF52840", 64, 1 << 20, 256 << 10)
    assert items["pico2"].sram_bytes == 520 * 1024 and items["portenta-h7"].core.startswith("Cortex-M7")
    for p in items.values():
        assert set(FIGURES) <= set(p.sources) and all(p.sources[f].strip() for f in FIGURES)
        assert 0 < p.model_flash_budget < p.flash_bytes and 0 < p.ram_budget < p.sram_bytes
        assert p.kind == "micro" and p.interpreter == "tflite-micro" and p.budget_note


def test_board_arena_adds_the_stated_margin():
    assert profiles.board_arena(50_304) == 56_320
    assert profiles.board_arena(1024) == 2048


def test_sqz_targets_lists_microcontrollers_beside_the_pis():
    out = CliRunner().invoke(main, ["targets"])
    assert out.exit_code == 0
    assert "rpi5" in out.output and "nano33ble" in out.output and "STM32H747XI" in out.output
    data = json.loads(CliRunner().invoke(main, ["targets", "--json"]).output)
    assert {t["name"] for t in data["micro_targets"]} >= {"pico2", "esp32s3"}

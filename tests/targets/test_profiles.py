import json

import pytest
from click.testing import CliRunner

from sqz.cli import main
from sqz.errors import InputError
from sqz.gate.budget import parse_budget
from sqz.targets import profiles


def test_every_profile_is_complete_and_consistent():
    items = profiles.linux_profiles()
    names = [p.name for p in profiles.profiles()]
    assert len(names) == len(set(names)), "a name is one target, Linux or micro"
    for board in ("rpi-zero2w", "rpi3", "rpi4", "rpi5"):
        assert profiles.get(board).arch == "aarch64"
        assert profiles.get(board + "-32").arch == "armv7l"
    for p in items:
        assert p.kind == "linux"
        assert p.arch in profiles.ARCHES
        assert p.interpreter == ("ai-edge-litert" if p.arch == "aarch64" else "tflite-runtime")
        assert p.threads >= 1
        parse_budget(p.budget)
        assert p.qemu_cpu.startswith("cortex-a")


def test_published_latencies_order_the_boards():
    ms = {n: profiles.get(n).latency_ms for n in ("rpi-zero2w", "rpi3", "rpi4", "rpi5")}
    assert ms["rpi5"] < ms["rpi4"] < ms["rpi3"] < ms["rpi-zero2w"]
    assert "github.com/Tencent/ncnn" in profiles.latency_source()


def test_armv6_boards_are_refused_with_the_reason():
    with pytest.raises(InputError, match="ARMv7 \\+ NEON"):
        profiles.get("rpi-zero")
    with pytest.raises(InputError, match="choose one of .*rpi4"):
        profiles.get("rpi9")


def test_one_lookup_answers_for_both_kinds_and_names_them_all_when_unknown():
    assert profiles.get("nano33ble").soc == "nRF52840" and profiles.get(" Nano33BLE ").kind == "micro"
    assert profiles.get("rpi4").arch == "aarch64" and profiles.get("rpi4").kind == "linux"
    with pytest.raises(InputError, match="unknown target 'arduino-uno'; choose one of rpi-zero2w.*armv7l, nano33ble"):
        profiles.get("arduino-uno")
    with pytest.raises(InputError, match="not supported"):
        profiles.get("rpi1")


def test_a_lookup_of_one_kind_refuses_the_other_and_names_its_choices():
    assert profiles.get("rpi4", "linux").name == "rpi4"
    assert profiles.get("pico2", "micro").name == "pico2"
    with pytest.raises(InputError, match="nano33ble is a microcontroller, not a Linux board; choose one of rpi") as e:
        profiles.get("nano33ble", "linux")
    assert "pico2" not in str(e.value)
    with pytest.raises(InputError, match="rpi4 is a Linux board, not a microcontroller; choose one of nano33ble"):
        profiles.get("rpi4", "micro")
    with pytest.raises(InputError, match="ARMv7 \\+ NEON"):
        profiles.for_arch("armv6l")
    with pytest.raises(InputError, match="unknown architecture"):
        profiles.for_arch("x86_64")
    assert profiles.for_arch("armv7l").arch == "armv7l"


def test_linux_board_commands_refuse_a_microcontroller_and_name_every_target_when_unknown(tmp_path):
    runner = CliRunner()
    model = str(tmp_path / "model_int8.tflite")
    micro = runner.invoke(main, ["deploy", model, "--target", "nano33ble", "--dest", str(tmp_path / "sd")])
    assert micro.exit_code == 2 and "nano33ble is a microcontroller, not a Linux board" in micro.output
    unknown = runner.invoke(main, ["verify", model, "--target", "nonesuch"])
    assert unknown.exit_code == 2 and "choose one of rpi-zero2w" in unknown.output and "nano33ble" in unknown.output


def test_targets_command_lists_profiles_as_table_and_json():
    runner = CliRunner()
    out = runner.invoke(main, ["targets"])
    assert out.exit_code == 0
    assert "rpi4" in out.output and "Cortex" not in out.output.splitlines()[0]
    data = json.loads(runner.invoke(main, ["targets", "--json"]).output)
    assert {t["name"] for t in data["targets"]} == {p.name for p in profiles.linux_profiles()}
    assert {t["name"] for t in data["micro_targets"]} == {p.name for p in profiles.micro_profiles()}


def test_check_takes_budget_and_metric_from_the_target(tiny_export):
    model = tiny_export[0] / "model_float32.tflite"
    assert 500_000 < model.stat().st_size < 2_000_000
    runner = CliRunner()
    over = runner.invoke(main, ["check", str(model), "--target", "rpi4", "--json"])
    assert over.exit_code == 1
    assert json.loads(over.output)["artifacts"][0]["budget"] == parse_budget(profiles.get("rpi4").budget)
    assert runner.invoke(main, ["check", str(model), "--target", "rpi4", "--budget", "2MB"]).exit_code == 0
    bad = runner.invoke(main, ["check", str(model), "--target", "rpi-zero"])
    assert bad.exit_code == 2 and "ARMv6" in bad.output


def test_gate_settings_resolve_given_then_target_then_defaults():
    rpi4 = profiles.get("rpi4")
    assert profiles.gate_settings(None) == ("0.5MB", "file", None)
    assert profiles.gate_settings("rpi4") == (rpi4.budget, rpi4.metric, "rpi4")
    assert profiles.gate_settings(" RPI4 ", "2MB", "packed") == ("2MB", "packed", "rpi4")
    assert profiles.gate_settings("nano33ble") == (
        str(profiles.get("nano33ble").model_flash_budget),
        "file",
        "nano33ble",
    )
    with pytest.raises(InputError, match="unknown target"):
        profiles.gate_settings("nonesuch")

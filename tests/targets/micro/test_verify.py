"""`sqz verify --target <micro>`: TFLite Micro bit-identical to ai-edge-litert's reference kernels."""

import json

from click.testing import CliRunner

from sqz.cli import main
from sqz.targets.micro.verify import verify


def test_tflite_micro_matches_reference_kernels_bit_for_bit(int8_model):
    v = verify(int8_model, "nano33ble", samples=40)
    assert v.ok and v.images == v.identical == 40 and v.max_step == 0
    assert v.source.startswith("the first 40 Fashion-MNIST") and v.arena > v.host_arena > 0
    assert v.line().startswith("PASS")


def test_cli_verifies_the_export_directory(tiny_export):
    out = CliRunner().invoke(main, ["verify", str(tiny_export[0]), "--target", "esp32s3", "--samples", "12", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{") :])
    assert data["ok"] and data["images"] == 12 and data["target"] == "esp32s3"


def test_micro_verify_refuses_qemu_flags(int8_model):
    out = CliRunner().invoke(main, ["verify", str(int8_model), "--target", "pico2", "--arch", "aarch64"])
    assert out.exit_code == 2 and "drop --arch" in out.output

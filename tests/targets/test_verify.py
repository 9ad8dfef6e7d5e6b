"""`sqz verify` under qemu user-mode with Debian's ARM Python and real ARM wheels (built once, cached)."""

import json
import subprocess
import sys

import pytest

from sqz.errors import InputError
from sqz.targets import armenv
from sqz.targets.verify import verify


@pytest.mark.parametrize("arch", ["aarch64", "armv7l"])
def test_emulated_arm_matches_this_machine(int8_model, arch):
    v = verify(int8_model, arch=arch, samples=24)
    assert v.machine == arch
    assert v.images == 24 and v.source.startswith("the first 24 Fashion-MNIST")
    assert v.top1_agree == 24
    assert v.max_step_default <= 1
    assert v.max_step_reference == 0
    assert v.ok and v.line().startswith("PASS")


def test_target_picks_cpu_and_interpreter(int8_model):
    v = verify(int8_model, target="rpi5", interpreter="tflite-runtime", samples=8, reference=False)
    assert (v.qemu_cpu, v.interpreter, v.machine) == ("cortex-a76", "tflite-runtime", "aarch64")
    assert v.ok and v.max_step_reference is None


@pytest.mark.slow
def test_environment_is_cached_and_runs_arm_python():
    env = armenv.ensure("armv7l")
    assert (env.root / armenv.MARKER).is_file()
    assert armenv.ensure("armv7l") == env
    out = subprocess.run(env.argv("cortex-a7", "-c", "import platform, numpy; print(platform.machine(), "
                                  "numpy.__version__)"), env=env.env([]), capture_output=True, text=True, check=True)
    machine, numpy_version = out.stdout.split()
    assert machine == "armv7l" and numpy_version.startswith("1.")


def test_impossible_requests_are_user_errors(int8_model):
    with pytest.raises(InputError, match="no armv7l wheel"):
        verify(int8_model, arch="armv7l", interpreter="ai-edge-litert")
    with pytest.raises(InputError, match="ARMv6"):
        verify(int8_model, target="rpi-zero")
    with pytest.raises(InputError, match="not armv7l"):
        verify(int8_model, arch="armv7l", target="rpi4")
    with pytest.raises(InputError, match="full-int8"):
        verify(int8_model.with_name("model_float32.tflite"), arch="aarch64")


def test_cli_verify_json(int8_model):
    r = subprocess.run([sys.executable, "-m", "sqz.cli", "verify", str(int8_model.parent), "--arch", "aarch64",
                        "--samples", "8", "--no-reference", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1000:]
    data = json.loads(r.stdout)
    assert data["ok"] and data["machine"] == "aarch64" and data["interpreter"] == "ai-edge-litert"

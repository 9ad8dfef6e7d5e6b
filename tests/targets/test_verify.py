"""`sqz verify` under qemu user-mode with Debian's ARM Python and real ARM wheels (built once, cached): Debian 13
(trixie, Python 3.13) and Debian 12 (bookworm, Python 3.11) userlands."""

import json
import subprocess
import sys

import pytest

from sqz.errors import InputError
from sqz.targets import armenv
from sqz.targets.verify import default_os, verify


@pytest.mark.parametrize(
    "arch,os,expect_os",
    [("aarch64", None, "trixie"), ("aarch64", "bookworm", "bookworm"), ("armv7l", None, "bookworm")],
)
def test_emulated_arm_matches_this_machine(int8_model, arch, os, expect_os):
    v = verify(int8_model, arch=arch, samples=24, os=os)
    assert v.machine == arch and v.os == expect_os and v.artifact == "model_int8.tflite"
    assert f"{arch} Debian {expect_os} (Python {armenv.OSES[expect_os].python})" in v.line()
    assert v.images == 24 and v.source.startswith("the first 24 Fashion-MNIST")
    assert v.top1_agree == 24
    assert v.max_step_default <= 1
    assert v.max_step_reference == 0
    assert v.ok and v.line().startswith("PASS")


def test_target_picks_cpu_and_interpreter(int8_model):
    v = verify(int8_model, target="rpi5", interpreter="tflite-runtime", samples=8, reference=False)
    assert (v.qemu_cpu, v.interpreter, v.machine) == ("cortex-a76", "tflite-runtime", "aarch64")
    assert v.ok and v.max_step_reference is None
    assert v.os == "bookworm" and "tflite-runtime has no Python 3.13 wheel" in v.line()  # trixie has no such wheel


def test_armv7l_on_trixie_runs_the_onnx_file_with_debians_onnxruntime(int8_model):
    v = verify(int8_model.parent, arch="armv7l", os="trixie", samples=16)
    assert (v.machine, v.os, v.artifact) == ("armv7l", "trixie", "model.onnx")
    assert v.interpreter.startswith("onnxruntime 1.21") and v.host_interpreter.startswith("onnxruntime")
    assert v.top1_agree == 16 and v.max_rel_diff <= 1e-4 and v.max_step_default is None
    assert v.ok and v.line().startswith("PASS  armv7l Debian trixie (Python 3.13)")
    assert "model.onnx (no TFLite interpreter for armv7l on Python 3.13)" in v.line()
    # the int8 file's path picks the same export's model.onnx
    assert verify(int8_model, arch="armv7l", os="trixie", samples=2).artifact == "model.onnx"


def test_default_os_is_trixie_where_it_runs_the_int8_file():
    assert default_os("aarch64", "ai-edge-litert") == "trixie"
    assert default_os("aarch64", "tflite-runtime") == "bookworm"
    assert default_os("armv7l", "tflite-runtime") == "bookworm"


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch,cpu,module", [("aarch64", "cortex-a72", "ai_edge_litert.interpreter"), ("armv7l", "cortex-a7", "onnxruntime")]
)
def test_trixie_environment_runs_python_3_13(arch, cpu, module):
    env = armenv.ensure(arch, os_name="trixie")
    assert env.root == armenv.directory(arch, "trixie") != armenv.directory(arch, "bookworm")
    assert (env.root / armenv.MARKER).is_file() and armenv.ensure(arch, os_name="trixie") == env
    out = subprocess.run(
        env.argv(
            cpu,
            "-c",
            f"import platform, sys, numpy, {module}; print(platform.machine(), "
            "sys.version.split()[0], numpy.__version__)",
        ),
        env=env.env([]),
        capture_output=True,
        text=True,
        check=True,
    )
    machine, python, numpy_version = out.stdout.split()
    assert machine == arch and python.startswith("3.13.") and numpy_version.startswith("2.")


@pytest.mark.slow
def test_environment_is_cached_and_runs_arm_python():
    env = armenv.ensure("armv7l")
    assert (env.root / armenv.MARKER).is_file()
    assert armenv.ensure("armv7l") == env
    out = subprocess.run(
        env.argv("cortex-a7", "-c", "import platform, numpy; print(platform.machine(), numpy.__version__)"),
        env=env.env([]),
        capture_output=True,
        text=True,
        check=True,
    )
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
    with pytest.raises(InputError, match="no TFLite interpreter for armv7l on Python 3.13"):
        verify(int8_model, arch="armv7l", os="trixie", interpreter="tflite-runtime")
    with pytest.raises(InputError, match="no Python 3.13 wheel"):
        verify(int8_model, arch="aarch64", os="trixie", interpreter="tflite-runtime")
    with pytest.raises(InputError, match="only armv7l on Debian trixie runs model.onnx"):
        verify(int8_model.with_name("model.onnx"), arch="aarch64")
    with pytest.raises(InputError, match="unknown OS"):
        verify(int8_model, arch="aarch64", os="sid")


def test_cli_verify_json(int8_model):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqz.cli",
            "verify",
            str(int8_model.parent),
            "--arch",
            "aarch64",
            "--samples",
            "8",
            "--no-reference",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-1000:]
    data = json.loads(r.stdout)
    assert data["ok"] and data["machine"] == "aarch64" and data["interpreter"] == "ai-edge-litert"


def test_cli_verify_armv7l_trixie_keeps_onnxruntimes_schema_noise_out(int8_model):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqz.cli",
            "verify",
            str(int8_model.parent),
            "--arch",
            "armv7l",
            "--os",
            "trixie",
            "--samples",
            "4",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-1000:]
    assert r.stdout.startswith("PASS  armv7l Debian trixie (Python 3.13)") and "model.onnx" in r.stdout
    assert "Schema error" not in r.stdout + r.stderr
    assert "verifying model.onnx with Debian's python3-onnxruntime" in r.stderr

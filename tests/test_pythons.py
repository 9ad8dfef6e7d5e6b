"""tools/pythons.py (`make verify-pythons`): the comparison refuses any difference, the emulated side must run wholly
from its own userland, and the [board] requirements are pyproject.toml's for each Python; one real run (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sqz.targets import armenv
from tools import pythons


def side(seed: int = 0) -> dict:
    steps = np.random.default_rng(seed).integers(-128, 128, size=(32, 10), dtype=np.int32)
    run = [f"/tmp/images/{i:03d}.png: Trouser 97.1 %, Dress 2.0 %, Coat 0.4 %" for i in range(32)]
    return {
        "steps": {"default": steps, "reference": steps.copy()},
        "run": run,
        "said": ["(interpreter: ai-edge-litert)"],
    }


def test_identical_sides_pass():
    assert pythons.compare(side(), side()) == []


@pytest.mark.parametrize("kind", pythons.KERNELS)
def test_one_int8_step_anywhere_fails(kind):
    got = side()
    got["steps"][kind][17, 3] += 1
    assert pythons.compare(side(), got) == [f"{kind} kernels: 1 of 320 int8 outputs differ (max 1 step)"]


def test_sqz_run_lines_must_match_exactly():
    got = side()
    got["run"][5] = got["run"][5].replace("Coat 0.4 %", "Shirt 0.4 %")
    (problem,) = pythons.compare(side(), got)
    assert problem.startswith("sqz run: 1 of 32 lines differ (32 printed), first: ") and "Shirt 0.4 %" in problem
    got = side()
    got["run"].pop()
    assert pythons.compare(side(), got) == ["sqz run: 0 of 32 lines differ (31 printed)"]
    got = side()
    got["said"] = ["(interpreter: tflite-runtime)"]
    assert pythons.compare(side(), got) == [
        "sqz run: ['(interpreter: tflite-runtime)'] here ['(interpreter: ai-edge-litert)']"
    ]


def test_an_emulated_side_that_reached_this_machine_fails(tmp_path):
    env = armenv.Env(pythons.X86_64, tmp_path / "env", pythons.RELEASES["3.10"])
    work = tmp_path / "work"
    own = {
        "python": "3.10.12",
        "machine": "x86_64",
        "glibc": "glibc 2.35",
        "loaded": [f"{env.rootfs}/usr/lib/x86_64-linux-gnu/libc.so.6", f"{env.root}/site/numpy/_core/x.so"],
        "sqz": f"{work}/lib/sqz/__init__.py",
    }
    assert pythons.foreign(env, work, own) == []
    assert pythons.foreign(env, work, {**own, "glibc": "glibc 2.36"}) == [
        "ran with glibc 2.36, not Ubuntu 22.04's glibc 2.35"
    ]
    host_lib = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30"
    assert pythons.foreign(env, work, {**own, "loaded": [*own["loaded"], host_lib]}) == [
        f"loaded 1 shared objects from this machine, e.g. {host_lib}"
    ]
    assert pythons.foreign(env, work, {**own, "python": "3.11.7"}) == [
        "ran Python 3.11.7 on x86_64, not 3.10 on x86_64"
    ]
    assert pythons.foreign(env, work, {**own, "sqz": "/work/main/sqz/__init__.py"}) == [
        "imported sqz from /work/main/sqz/__init__.py, not the wheel"
    ]


def test_board_requirements_follow_pyproject(tmp_path):
    for python in pythons.RELEASES:
        reqs = pythons.board_requirements(python)
        assert "ai-edge-litert==2.1.0" in reqs and "onnxruntime==1.23.0" in reqs and "numpy>=1.26" in reqs
        assert not any(r.startswith("tflite-runtime") for r in reqs)  # armv7l only
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["numpy>=2"]\n[project.optional-dependencies]\n'
        "board = [\"ai-edge-litert==9.9; python_version < '3.12'\", \"onnxruntime==1.0; python_version >= '3.12'\"]\n"
    )
    assert pythons.board_requirements("3.10", pyproject) == ("numpy>=2", "ai-edge-litert==9.9")
    assert pythons.board_requirements("3.13", pyproject) == ("numpy>=2", "onnxruntime==1.0")


def test_each_python_is_its_own_release():
    assert {p: d.python for p, d in pythons.RELEASES.items()} == {"3.10": "3.10", "3.12": "3.12", "3.13": "3.13"}
    assert [d.glibc_minor for d in pythons.RELEASES.values()] == [35, 39, 41]


@pytest.mark.slow
def test_python_3_10_gives_the_same_bytes_out(tiny_export, capsys):
    """Ubuntu 22.04's Python 3.10 (built once into $SQZ_CACHE/pythons: archive.ubuntu.com and the registry)."""
    out, _ = tiny_export
    assert pythons.main([str(out), "--python", "3.10", "--samples", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(ln.startswith("PASS  Python 3.10.") and "Ubuntu 22.04 jammy x86_64 (glibc 2.35)" in ln for ln in lines)
    assert any(ln.strip().startswith("Python 3.10.") and "ai-edge-litert 2.1.0" in ln for ln in lines)
    assert Path(out / "model_int8.tflite").is_file()

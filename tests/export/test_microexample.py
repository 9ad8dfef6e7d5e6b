"""The bare-metal example a user flashes: written for an export, built and run on emulated Cortex-M4, M7, M33 and M55,
printing the labels the reference kernels give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from sqz.export import microexample
from sqz.runtime.interpreters import reference_outputs
from sqz.targets.micro import cortexm

ROOT = Path(__file__).resolve().parents[2]


def _example_images() -> list[Path]:
    return sorted((ROOT / "docs" / "examples").glob("*.png"))


def test_the_example_program_classifies_the_bundled_images_on_each_core(tiny_export, tmp_path):
    from sqz.runtime import manifest as manifests
    from sqz.runtime.preprocess import decode
    from sqz.targets.micro.verify import quantised_inputs

    images = _example_images()
    assert len(images) >= 2
    microexample.write(tiny_export[0], tmp_path, images)
    data, entry = manifests.entry_for(tiny_export[0] / "model_int8.tflite")
    pre = data.preprocess
    x = quantised_inputs(np.stack([decode(p, pre) for p in images]), pre, entry.io)
    ref = reference_outputs((tiny_export[0] / "model_int8.tflite").read_bytes(), x)
    want = [f"{p.name}: {data.labels[int(np.argmax(r))]} (score {int(r.max())})" for p, r in zip(images, ref)]
    for machine in cortexm.VERIFY_MACHINES:
        r = subprocess.run(
            ["make", "-s", "-C", str(tmp_path), f"MACHINE={machine}", "run"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr[-1000:]
        assert "warning" not in r.stderr
        assert [ln for ln in (r.stdout + r.stderr).splitlines() if ": " in ln and "(score" in ln] == want


def test_the_example_refuses_a_directory_without_an_int8_model(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "sqz.export.microexample", str(tmp_path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no model_int8.tflite" in r.stderr
    assert not (tmp_path / "out").exists()

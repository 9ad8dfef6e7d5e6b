"""A bounded, seeded run of tools/fuzz.py: damaged real artifacts through the real commands, no crash."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_damaged_models_and_checkpoints_never_crash_hang_or_trace(tiny_export, tiny_run):
    out, _ = tiny_export
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "fuzz.py"),
            str(out),
            str(tiny_run / "model.pt"),
            "--cases",
            "240",
            "--seed",
            "7",
            "--jobs",
            "2",
            "--timeout",
            "120",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(r.stdout)
    assert result["cases"] == sum(result["outcomes"].values()) == 240
    assert (result["crashes"], result["tracebacks"], result["hangs"], result["unclear"]) == (0, 0, 0, 0), result["bad"][
        :5
    ]
    assert r.returncode == 0
    # every kind of input was tried, and the damage was caught by the checks meant to catch it
    assert {"tflite int8", "onnx", "packed (container)", "packed (model inside)", "checkpoint", "foreign"} <= set(
        result["by_artifact"]
    )
    assert set(result["by_command"]) == {"check", "run", "checkpoint"}
    assert result["outcomes"]["clean error"] > 100 and result["outcomes"]["ok"] > 10
    reasons = " | ".join(result["reasons"])
    for needle in ("not a valid TFLite model", "not a readable sqz checkpoint", "not a readable packed model"):
        assert needle in reasons, reasons

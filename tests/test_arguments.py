"""Bad arguments to every command: exit 2 and one line naming what is wrong, before any work is done."""

import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sqz.cli import main


def _sqz(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_line_error(r, needle: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sqz: error:") and needle in lines[0], r.stderr


@pytest.mark.parametrize(
    "budget, code, needle",
    [
        ("0.5MB", 0, "budget 500,000 B"),
        ("512KiB", 0, "budget 524,288 B"),
        ("500000", 0, "budget 500,000 B"),
        ("-1", 2, "not a size"),
        ("abc", 2, "not a size"),
        ("1e99", 2, "out of range"),
        ("0", 2, "out of range"),
    ],
)
def test_budgets(tiny_export, budget, code, needle):
    out, _ = tiny_export
    r = _sqz("check", out / "model_int8.tflite", "--budget", budget)
    if code:
        _one_line_error(r, needle)
    else:
        assert r.exit_code == 0 and needle in r.stdout


@pytest.mark.parametrize("budget", ["-1", "abc", "1e99"])
def test_export_refuses_a_bad_budget_first(tiny_run, tmp_path, budget):
    _one_line_error(_sqz("export", tiny_run / "model.pt", "--budget", budget, "--out", tmp_path / "o"), "budget")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_missing_paths_and_directories(tiny_export, tmp_path):
    out, _ = tiny_export
    int8, nowhere, empty = out / "model_int8.tflite", tmp_path / "nowhere", tmp_path / "empty"
    empty.mkdir()
    for args, needle in [
        (("check", nowhere), "no such file"),
        (("check", empty), "is a directory"),
        (("run", nowhere, int8), "no such model file"),
        (("run", empty, int8), "no such model file"),
        (("run", int8, nowhere), "not a readable image"),
        (("run", int8, empty), "not a readable image"),
        (("bench", nowhere, "--runs", 1), "no such model file"),
        (("bench", empty, "--runs", 1), "no such model file"),
        (("bench", int8, "--runs", 0), "'--runs': 0 is not in the range x>=1"),
        (("export", nowhere, "--out", tmp_path / "o"), "no such checkpoint"),
        (("export", empty, "--out", tmp_path / "o"), "no such checkpoint"),
        (("train", "--data", nowhere, "--out", tmp_path / "t"), "no such dataset"),
        (("train", "--data", empty, "--out", tmp_path / "t"), "at least two"),
        (("verify", nowhere, "--arch", "aarch64"), "give a .tflite model"),
        (("verify", empty, "--arch", "aarch64"), "give a .tflite model"),
        (("deploy", nowhere, "--dest", tmp_path / "d"), "deploy a .tflite or .onnx model"),
        (("deploy", empty, "--dest", tmp_path / "d"), "no manifest beside the model"),
    ]:
        _one_line_error(_sqz(*args), needle)


def test_outputs_that_are_files(tiny_export, tiny_run, tmp_path):
    out, _ = tiny_export
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for args, needle in [
        (("export", tiny_run / "model.pt", "--out", afile), "--out"),
        (("train", "--data", "fashion-mnist", "--out", afile, "--epochs", 1), "--out"),
        (("compress", tiny_run / "model.pt", "--out", tmp_path), "is a directory"),
        (("deploy", out / "model_int8.tflite", "--dest", afile), "--dest"),
    ]:
        _one_line_error(_sqz(*args), needle)
    assert afile.read_text() == "keep me"


def _can_mount_read_only(tmp_path) -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {tmp_path} && ! touch {tmp_path}/x"],
        capture_output=True,
    )
    return probe.returncode == 0


def test_read_only_output_directories(tiny_export, tiny_run, tmp_path):
    """A read-only mount (tests run as root, where chmod would not stop a write), in a private mount namespace."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if not _can_mount_read_only(ro):
        pytest.skip("unshare -rm cannot make a private read-only mount here (user namespaces disabled)")
    out, _ = tiny_export
    script = f'mount -t tmpfs -o ro tmpfs {ro} && exec "$@"'
    for args in [
        ("export", tiny_run / "model.pt", "--out", ro / "sub"),
        ("export", tiny_run / "model.pt", "--out", ro),
        ("train", "--data", "fashion-mnist", "--out", ro / "run", "--epochs", 1),
        ("compress", tiny_run / "model.pt", "--out", ro / "c.pt"),
        ("deploy", out / "model_int8.tflite", "--dest", ro),
    ]:
        r = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script, "sh", sys.executable, "-m", "sqz.cli", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [ln for ln in r.stderr.splitlines() if not ln.startswith("INFO: ")]
        assert r.returncode == 2 and len(lines) == 1 and "cannot write there" in lines[0], (args, r.stderr)
        assert "read-only" in lines[0]


NUMERIC_BAD = [
    ("train", "--epochs", "0"),
    ("train", "--epochs", "abc"),
    ("train", "--batch-size", "0"),
    ("train", "--lr", "0"),
    ("train", "--lr", "-1e-3"),
    ("train", "--seed", "-1"),
    ("train", "--limit", "-1"),
    ("train", "--threads", "-1"),
    ("train", "--workers", "-2"),
    ("export", "--calib", "0"),
    ("export", "--eval-limit", "-1"),
    ("sqz-export", "--calib", "-5"),
    ("sqz-export", "--eval-limit", "-1"),
    ("compress", "--prune", "1.5"),
    ("compress", "--prune", "-0.1"),
    ("compress", "--share-bits", "9"),
    ("compress", "--epochs", "0"),
    ("run", "--top", "0"),
    ("run", "--threads", "0"),
    ("bench", "--threads", "0"),
    ("bench", "--runs", "0"),
    ("bench", "--warmup", "-1"),
    ("verify", "--samples", "0"),
    ("deploy", "--port", "0"),
    ("rollback", "--port", "70000"),
]
# Everything else each command needs, as paths that do not exist: the range check must come first.
REST = {
    "train": ["--out", "out"],
    "export": ["--out", "out"],
    "sqz-export": ["--out", "out"],
    "compress": ["c.pt", "--out", "o.pt"],
    "run": ["m.tflite", "i.png"],
    "bench": ["m.tflite"],
    "verify": ["m.tflite"],
    "deploy": ["m.tflite", "--dest", "d"],
    "rollback": ["--host", "pi@board"],
}


@pytest.mark.parametrize("command, option, value", NUMERIC_BAD)
def test_every_numeric_option_refuses_a_bad_value_while_parsing(tmp_path, monkeypatch, command, option, value):
    """Click ranges refuse the value before the command starts: exit 2, one line naming the option, nothing
    written."""
    from sqz.cli import export_main

    monkeypatch.chdir(tmp_path)
    cli, argv = (export_main, []) if command == "sqz-export" else (main, [command])
    r = CliRunner().invoke(cli, argv + REST[command] + [option, value])
    _one_line_error(r, f"'{option}'")
    assert "Traceback" not in r.output and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--pools", "0,x"), "--pools"),
        (("--pools", "0,9"), "positions 0 to 8"),
        (("--stem-stride", "3"), "--stem-stride"),
        (("--arch", "1.1-fancy"), "unknown arch"),
    ],
)
def test_train_refuses_a_bad_architecture_first(tmp_path, args, needle):
    _one_line_error(_sqz("train", "--out", tmp_path / "o", *args), needle)
    assert not (tmp_path / "o").exists()

"""Deploy against a real OpenSSH server on 127.0.0.1: good deploy, rollback, corruption, unreachable, bad key."""

import fcntl
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqz.cli import main
from sqz.errors import InputError
from sqz.targets import deploy as dp
from sqz.targets.bundle import build, release_id
from sqz.targets.profiles import get
from tests.targets.conftest import free_port, keygen


@pytest.fixture(scope="module")
def bundles(int8_model, tmp_path_factory):
    """Two different bundles of the same model (different smoke samples → different release ids)."""
    d = tmp_path_factory.mktemp("bundles")
    return build(int8_model, d / "a", get("rpi4"), samples=8), build(int8_model, d / "b", get("rpi4"), samples=6)


def ssh_for(server):
    return dp.SSH(identity=server.identity, known_hosts=server.known_hosts)


def current(root: Path) -> str:
    return os.readlink(root / "current").removeprefix("releases/")


def test_good_deploy_checks_smokes_and_switches(sshd, bundles, tmp_path):
    root = tmp_path / "board"
    [res] = dp.deploy(bundles[0], [sshd.host], ssh_for(sshd), str(root), python=sys.executable)
    assert res.ok, res.line()
    assert res.release == release_id(bundles[0]) == current(root)
    assert res.details["match"] == res.details["images"] == 8
    assert "smoke: 8/8 top-1" in res.line()
    release = root / "current"
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=release).returncode == 0
    assert not list((root / "releases").glob(".incoming*"))


def test_second_deploy_keeps_previous_and_rollback_switches_back(sshd, bundles, tmp_path):
    root, ssh = tmp_path / "board", ssh_for(sshd)
    a, b = (release_id(x) for x in bundles)
    assert dp.deploy(bundles[0], [sshd.host], ssh, str(root), python=sys.executable)[0].ok
    [second] = dp.deploy(bundles[1], [sshd.host], ssh, str(root), python=sys.executable)
    assert second.ok and second.previous == a and current(root) == b
    [back] = dp.rollback([sshd.host], ssh, str(root))
    assert back.ok and back.release == a and current(root) == a
    assert os.readlink(root / "previous") == f"releases/{b}"


def test_corrupted_upload_is_refused_and_current_stays(sshd, bundles, tmp_path):
    root, ssh = tmp_path / "board", ssh_for(sshd)
    assert dp.deploy(bundles[0], [sshd.host], ssh, str(root), python=sys.executable)[0].ok
    bad = tmp_path / "tampered"
    subprocess.run(["cp", "-a", str(bundles[1]), str(bad)], check=True)
    model = bad / "model_int8.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    [res] = dp.deploy(bad, [sshd.host], ssh, str(root), python=sys.executable)
    assert not res.ok and "checksum mismatch" in res.error and "model_int8.tflite" in res.error
    assert current(root) == release_id(bundles[0])
    assert sorted(p.name for p in (root / "releases").iterdir()) == [release_id(bundles[0])]


def test_unreachable_host_fails_alone(sshd, bundles, tmp_path):
    root = tmp_path / "board"
    dead = f"{sshd.user}@127.0.0.1:{free_port()}"
    results = dp.deploy(bundles[0], [dead, sshd.host], ssh_for(sshd), str(root), python=sys.executable)
    assert [r.ok for r in results] == [False, True]
    assert results[0].error.startswith("upload failed: ") and "refused" in results[0].error.lower()
    assert "\n" not in results[0].line()
    assert current(root) == release_id(bundles[0])


def test_unknown_host_key_is_refused(sshd, bundles, tmp_path):
    other = tmp_path / "other_key"
    keygen(other)
    kind, key = (other.with_suffix(".pub")).read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {key}\n")
    ssh = dp.SSH(identity=sshd.identity, known_hosts=known)
    [res] = dp.deploy(bundles[0], [sshd.host], ssh, str(tmp_path / "board"), python=sys.executable)
    assert not res.ok and "host key" in res.error.lower()
    assert not (tmp_path / "board").exists()


def test_board_without_python_skips_the_smoke_honestly(sshd, bundles, tmp_path):
    [res] = dp.deploy(bundles[0], [sshd.host], ssh_for(sshd), str(tmp_path / "b"), python="/nonexistent/python3")
    assert res.ok and res.smoke.startswith("smoke: skipped (no interpreter on host")


def test_failed_smoke_keeps_current_and_the_release(sshd, bundles, tmp_path):
    root, ssh = tmp_path / "board", ssh_for(sshd)
    assert dp.deploy(bundles[0], [sshd.host], ssh, str(root), python=sys.executable)[0].ok
    [res] = dp.deploy(bundles[1], [sshd.host], ssh, str(root), python="/bin/false")
    b = release_id(bundles[1])
    assert not res.ok and res.error.startswith("smoke: failed") and f"kept in releases/{b}" in res.error
    assert current(root) == release_id(bundles[0]) and (root / "releases" / b / "SHA256SUMS").is_file()


def test_a_board_without_flock_is_told_what_to_install(bundles, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in Path("/usr/bin").iterdir():
        if tool.name != "flock" and not (bin_dir / tool.name).exists():
            (bin_dir / tool.name).symlink_to(tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    res = dp.deploy_local(bundles[0], tmp_path / "sd")
    assert not res.ok and "flock not found on the board: install util-linux" in res.error, res.line()
    assert not (tmp_path / "sd" / "current").exists()


def test_dest_writes_the_same_layout_and_rolls_back(bundles, tmp_path):
    sd = tmp_path / "sd"
    assert dp.deploy_local(bundles[0], sd).ok
    assert dp.deploy_local(bundles[1], sd).ok
    assert current(sd) == release_id(bundles[1])
    assert (sd / "current" / "model_int8.tflite").is_file()
    assert dp.rollback_local(sd).ok and current(sd) == release_id(bundles[0])


def test_cli_deploy_and_rollback(sshd, int8_model, tmp_path):
    root = tmp_path / "board"
    common = ["--identity", str(sshd.identity), "--known-hosts", str(sshd.known_hosts), "--remote-dir", str(root)]
    dead = f"{sshd.user}@127.0.0.1:{free_port()}"
    runner = CliRunner()
    r = runner.invoke(
        main,
        [
            "deploy",
            str(int8_model),
            "--target",
            "rpi4",
            "--host",
            sshd.host,
            "--host",
            dead,
            "--python",
            sys.executable,
            *common,
        ],
    )
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 2
    assert lines[0].startswith("OK ") and lines[1].startswith("FAIL ")
    r = runner.invoke(main, ["rollback", "--host", sshd.host, *common])
    assert r.exit_code == 1 and "no previous release" in r.output
    bad = runner.invoke(main, ["deploy", str(int8_model), "--target", "rpi-zero", "--host", sshd.host])
    assert bad.exit_code == 2 and "ARMv6" in bad.output


def test_bad_host_and_missing_hosts_are_user_errors(bundles, int8_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError):
        dp.deploy(bundles[0], [])
    for host in ("-oProxyCommand=x", "-oProxyCommand=touch pwned:22"):
        with pytest.raises(InputError, match="user@board"):
            dp.deploy(bundles[0], [host])
        with pytest.raises(InputError, match="user@board"):
            dp.rollback([host])
    r = CliRunner().invoke(main, ["deploy", str(int8_model), "--host", "-oProxyCommand=touch pwned:22"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "user@board" in r.output
    assert not (tmp_path / "pwned").exists()


def test_one_board_given_twice_is_refused_before_any_work(sshd, bundles, int8_model, tmp_path):
    root, ssh = tmp_path / "board", ssh_for(sshd)
    same = f"{sshd.user}@127.0.0.1"
    for hosts, s in (([sshd.host, sshd.host], ssh), ([sshd.host, same], dp.SSH(port=sshd.port))):
        with pytest.raises(InputError, match="give each board once"):
            dp.deploy(bundles[0], hosts, s, str(root), python=sys.executable)
        with pytest.raises(InputError, match="give each board once"):
            dp.rollback(hosts, s, str(root))
    r = CliRunner().invoke(
        main,
        [
            "deploy",
            str(int8_model),
            "--host",
            sshd.host,
            "--host",
            sshd.host,
            "--identity",
            str(sshd.identity),
            "--known-hosts",
            str(sshd.known_hosts),
            "--remote-dir",
            str(root),
        ],
    )
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "once" in r.output
    assert not root.exists()


def test_concurrent_deploys_to_one_board_take_turns(sshd, bundles, tmp_path):
    root, ssh = tmp_path / "board", ssh_for(sshd)
    ids = {release_id(b) for b in bundles}
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(dp.deploy, b, [sshd.host], ssh, str(root), python=sys.executable) for b in bundles]
        results = [job.result()[0] for job in jobs]
    assert all(r.ok for r in results), [r.line() for r in results]
    first, last = sorted(results, key=lambda r: r.previous)
    assert first.previous == "" and last.previous == first.release
    assert current(root) == last.release and os.readlink(root / "previous") == f"releases/{first.release}"
    assert {p.name for p in (root / "releases").iterdir()} == ids
    for rid in ids:
        check = subprocess.run(["sha256sum", "-c", "--strict", "--quiet", "SHA256SUMS"], cwd=root / "releases" / rid)
        assert check.returncode == 0
    assert (root / "current" / "model_int8.tflite").is_file()


def test_a_held_board_lock_fails_clearly_and_changes_nothing(sshd, bundles, tmp_path):
    root, ssh = tmp_path / "board", ssh_for(sshd)
    a = release_id(bundles[0])
    assert dp.deploy(bundles[0], [sshd.host], ssh, str(root), python=sys.executable)[0].ok
    with open(root / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        [res] = dp.deploy(bundles[1], [sshd.host], ssh, str(root), python=sys.executable, lock_wait=1)
        [back] = dp.rollback([sshd.host], ssh, str(root), lock_wait=1)
        local = dp.deploy_local(bundles[1], root, lock_wait=1)
    for r in (res, back, local):
        assert not r.ok and "another deploy or rollback holds" in r.error and ".lock" in r.error, r.line()
        assert "`current` unchanged" in r.error and "\n" not in r.line()
    assert current(root) == a and sorted(p.name for p in (root / "releases").iterdir()) == [a]
    assert dp.deploy(bundles[1], [sshd.host], ssh, str(root), python=sys.executable, lock_wait=1)[0].ok


def test_remote_paths_keep_the_remote_home_and_quote_the_rest():
    assert dp.remote_quote("~/my sqz") == "\"$HOME\"'/my sqz'"
    assert dp.remote_quote("/opt/x;rm -rf /") == "'/opt/x;rm -rf /'"
    out = subprocess.run(["sh", "-c", f"HOME=/h; echo {dp.remote_quote('~/a b')}"], capture_output=True, text=True)
    assert out.stdout.strip() == "/h/a b"


def test_a_32bit_board_on_trixie_gets_model_onnx_and_smokes_it(sshd, int8_model, tmp_path):
    """No TFLite interpreter exists for armv7l on Python 3.13: the export directory deploys its model.onnx."""
    root, notes = tmp_path / "board", []
    [res] = dp.deploy_model(
        int8_model.parent,
        "rpi4-32",
        [sshd.host],
        ssh=ssh_for(sshd),
        remote_dir=str(root),
        python=sys.executable,
        os="trixie",
        log=notes.append,
    )
    assert res.ok, res.line()
    assert (root / "current" / "model.onnx").is_file() and not (root / "current" / "model_int8.tflite").exists()
    assert res.details["interpreter"].startswith("onnxruntime") and res.details["match"] == 8
    assert notes == [
        "rpi4-32: armv7l on Debian trixie runs model.onnx (no TFLite interpreter for armv7l on "
        "Python 3.13); the board needs python3-onnxruntime"
    ]
    with pytest.raises(InputError, match="no TFLite interpreter for armv7l"):
        dp.deploy_model(int8_model, "rpi4-32", [], dest=tmp_path / "sd", os="trixie")
    [res] = dp.deploy_model(int8_model.parent, "rpi4-32", [], dest=tmp_path / "sd", os="bookworm")
    assert res.ok and (tmp_path / "sd" / "current" / "model_int8.tflite").is_file()


def test_cli_deploy_os_trixie_to_a_card(int8_model, tmp_path):
    r = CliRunner().invoke(
        main,
        ["deploy", str(int8_model.parent), "--target", "rpi3-32", "--os", "trixie", "--dest", str(tmp_path / "sd")],
    )
    assert r.exit_code == 0, r.output
    assert "runs model.onnx" in r.output and (tmp_path / "sd" / "current" / "model.onnx").is_file()

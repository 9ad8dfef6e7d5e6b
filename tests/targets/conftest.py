"""A real OpenSSH server on 127.0.0.1 with throwaway host and user keys, for the deploy tests."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


@dataclass
class SSHServer:
    port: int
    user: str
    identity: Path
    known_hosts: Path
    host_key_line: str

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """sshd -D on a free port as the current user; stopped after the session."""
    if not (os.path.exists(SSHD) and shutil.which("ssh")):
        pytest.fail("OpenSSH is missing: apt-get install openssh-server openssh-client (.ci/run does)")
    d = tmp_path_factory.mktemp("sshd")
    keygen(d / "host_key")
    keygen(d / "user_key")
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'user_key.pub'}\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitUserEnvironment no\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stderr=open(d / "sshd.log", "wb"))
    host_key = (d / "host_key.pub").read_text().split()
    line = f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n"
    (d / "known_hosts").write_text(line)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"sshd did not start: {(d / 'sshd.log').read_text()[-500:]}")
            time.sleep(0.1)
    yield SSHServer(port, getpass.getuser(), d / "user_key", d / "known_hosts", line)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def int8_model(tiny_export) -> Path:
    out, _ = tiny_export
    return out / "model_int8.tflite"

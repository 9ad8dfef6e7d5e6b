"""Reaching boards with the system's OpenSSH client: checked host names and the `ssh` argv."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqz.errors import InputError

USAGE = "write user@board or user@board:port"
_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*\$?")
_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_.])?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


def _bad(host: str, why: str) -> InputError:
    return InputError(f"--host {host!r}: {why}; {USAGE}")


def check_port(port: int | str | None, host: str = "") -> int | None:
    """A port in 1..65535 (None stays None)."""
    if port is None:
        return None
    if isinstance(port, str) and not port.isdigit():
        raise _bad(host, f"port {port!r} is not a number")
    if not 1 <= int(port) <= 65535:
        if host:
            raise _bad(host, f"port {port} is outside 1..65535")
        raise InputError(f"--port {port} is outside 1..65535")
    return int(port)


def split_host(host: str) -> tuple[str, int | None]:
    """`user@board:2222` → ("user@board", 2222); `board` keeps port None; `pi@[fe80::1]:22` drops the brackets.

    Anything ssh could read as an option or that is not a plain user and host name is refused."""
    user, at, rest = host.rpartition("@")
    if at and not _USER.fullmatch(user):
        raise _bad(host, f"user {user!r} is not a user name")
    port: str | None = None
    if rest.startswith("["):
        name, close, tail = rest[1:].partition("]")
        if not close or (tail and not tail.startswith(":")):
            raise _bad(host, "unbalanced [ ] around an IPv6 address")
        port = tail[1:] if tail else None
        valid = _IPV6.fullmatch(name)
    elif rest.count(":") == 1:
        name, port = rest.split(":")
        valid = _NAME.fullmatch(name)
    else:
        name = rest
        valid = _NAME.fullmatch(name) or _IPV6.fullmatch(name)
    if not valid:
        raise _bad(host, f"{name!r} is not a host name")
    if port is not None and port == "":
        raise _bad(host, "empty port after ':'")
    return (f"{user}@{name}" if at else name), check_port(port, host)


def _config_path(path: Path) -> str:
    """A path as one ssh option value: absolute, `%` kept literal, quoted so spaces do not split it."""
    text = str(Path(path).expanduser().absolute()).replace("%", "%%")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class SSH:
    """How to reach boards: port, key, known_hosts. Host keys are always checked (StrictHostKeyChecking=yes)."""

    port: int | None = None
    identity: Path | None = None
    known_hosts: Path | None = None
    connect_timeout: int = 10

    def __post_init__(self) -> None:
        check_port(self.port)

    def target(self, host: str) -> tuple[str, int | None]:
        """(destination, port) that `argv` uses for host: the host's own port, else --port."""
        name, port = split_host(host)
        return name, port or self.port

    def argv(self, host: str) -> list[str]:
        """`ssh OPTIONS -- DESTINATION`: the `--` keeps any destination from being read as an option."""
        name, port = self.target(host)
        opts = [
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"ConnectTimeout={self.connect_timeout}",
            "-o",
            "LogLevel=ERROR",
        ]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={_config_path(self.known_hosts)}"]
        if self.identity:
            opts += ["-o", f"IdentityFile={_config_path(self.identity)}", "-o", "IdentitiesOnly=yes"]
        if port:
            opts += ["-p", str(port)]
        return ["ssh", *opts, "--", name]


def distinct(hosts: list[str], ssh: SSH) -> None:
    """Refuse a board named twice: two parallel installs on one board would only wait for each other."""
    seen: dict[tuple, str] = {}
    for h in hosts:
        name, port = ssh.target(h)
        key = (name.lower(), port)
        if key in seen:
            raise InputError(f"--host {h!r} is the same board as --host {seen[key]!r}; give each board once")
        seen[key] = h

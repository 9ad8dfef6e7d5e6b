"""Host names and the ssh argv: nothing reaches ssh as an option, odd key paths stay one path (real sshd)."""

import shutil

import pytest
from click.testing import CliRunner

from sqz.cli import main
from sqz.errors import InputError
from sqz.targets import deploy as dp
from sqz.targets.ssh import SSH, distinct, split_host

BAD = [
    "-oProxyCommand=touch pwned:22",
    "-oProxyCommand=touch pwned",
    "pi@-oProxyCommand=x:22",
    "-l@board",
    "pi@board:0",
    "pi@board:65536",
    "pi@board:",
    "pi@board:ssh",
    "@board",
    "pi@",
    "pi@:22",
    "pi@bo ard",
    "pi@board\n",
    "pi@bo\x00ard",
    "pi @board",
    "pi@board;id",
    "",
    "pi@[::1",
    "pi@[::1]x",
]


@pytest.mark.parametrize("host", BAD)
def test_hosts_that_are_not_plain_names_are_refused(host):
    with pytest.raises(InputError, match="user@board"):
        split_host(host)


@pytest.mark.parametrize(
    "host, expected",
    [
        ("pi@board", ("pi@board", None)),
        ("board", ("board", None)),
        ("pi@board.local:2222", ("pi@board.local", 2222)),
        ("pi@10.0.0.2:22", ("pi@10.0.0.2", 22)),
        ("pi@fe80::1", ("pi@fe80::1", None)),
        ("pi@[::1]:2222", ("pi@::1", 2222)),
        ("my_pi", ("my_pi", None)),
    ],
)
def test_plain_hosts_split_into_destination_and_port(host, expected):
    assert split_host(host) == expected


def test_the_destination_follows_a_double_dash_and_ports_are_checked(tmp_path):
    argv = SSH(port=2200, identity=tmp_path / "k", known_hosts=tmp_path / "kh").argv("pi@board")
    assert argv[0] == "ssh" and argv[-2:] == ["--", "pi@board"] and argv.count("--") == 1
    assert argv[argv.index("-p") + 1] == "2200"
    for port in (0, 65536, -1):
        with pytest.raises(InputError, match="1..65535"):
            SSH(port=port)


def test_one_board_named_twice_is_refused():
    distinct(["pi@a", "pi@b", "a"], SSH())
    with pytest.raises(InputError, match="given once|once"):
        distinct(["pi@a:22", "pi@b", "pi@A:22"], SSH())
    with pytest.raises(InputError, match="once"):
        distinct(["pi@a", "pi@a:2222"], SSH(port=2222))


def test_key_and_known_hosts_paths_with_spaces_and_percent_stay_one_path(sshd, tmp_path):
    keys = tmp_path / "my keys 100%h"
    keys.mkdir()
    shutil.copy(sshd.known_hosts, keys / "known hosts")
    shutil.copy(sshd.identity, keys / "id key")
    ssh = SSH(identity=keys / "id key", known_hosts=keys / "known hosts")
    proc = dp._run(ssh.argv(sshd.host), "echo reached")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == "reached", proc.stderr.decode()
    r = CliRunner().invoke(
        main,
        [
            "rollback",
            "--host",
            sshd.host,
            "--identity",
            str(keys / "id key"),
            "--known-hosts",
            str(keys / "known hosts"),
            "--remote-dir",
            str(tmp_path / "b"),
        ],
    )
    assert r.exit_code == 1 and "no previous release" in r.output, r.output

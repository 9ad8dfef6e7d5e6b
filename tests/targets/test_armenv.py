"""The userland layout armenv makes from unpacked packages: merged /usr and links that stay inside the root (qemu -L
otherwise finds what is missing, or what an absolute link names, in this machine's own tree)."""

from __future__ import annotations

import os

from sqz.targets import armenv


def test_packages_in_lib_move_under_usr_and_absolute_links_stay_inside(tmp_path):
    root = tmp_path / "rootfs"
    (root / "lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").write_text("loader")
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "usr/lib/x86_64-linux-gnu/libstdc++.so.6").write_text("libstdc++")
    (root / "usr/bin").mkdir()
    (root / "lib64").mkdir()
    (root / "lib64/ld-linux-x86-64.so.2").symlink_to("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")

    armenv._merged_usr(root)
    armenv._relative_links(root)

    assert os.readlink(root / "lib") == "usr/lib" and os.readlink(root / "bin") == "usr/bin"
    assert (root / "lib/x86_64-linux-gnu/libstdc++.so.6").read_text() == "libstdc++"  # both in one place now
    link = root / "lib64/ld-linux-x86-64.so.2"
    assert not os.readlink(link).startswith("/") and link.read_text() == "loader"
    assert link.resolve().is_relative_to(root.resolve())


def test_a_root_already_merged_is_left_as_it_is(tmp_path):
    root = tmp_path / "rootfs"
    (root / "usr/lib/aarch64-linux-gnu").mkdir(parents=True)
    (root / "usr/lib/ld-linux-aarch64.so.1").write_text("loader")
    armenv._merged_usr(root)
    armenv._merged_usr(root)
    assert os.readlink(root / "lib") == "usr/lib" and (root / "lib/ld-linux-aarch64.so.1").read_text() == "loader"
    assert not (root / "lib64").exists() and not (root / "sbin").exists()

"""os-release, Secure Boot, python3 links, mount lookup and meminfo: exact values and issues."""

from __future__ import annotations

import os
from pathlib import Path

from lais_agent.hardware.detect import ProbeSources, detect
from lais_agent.hardware.memory import parse_meminfo, probe_memory
from lais_agent.hardware.nvidia import Nvml
from lais_agent.hardware.profile import Issue, Memory
from lais_agent.hardware.storage import find_mount, probe_storage
from lais_agent.hardware.system import parse_os_release, probe_os


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_os_release_lines_comments_empty_values_and_bad_quotes() -> None:
    text = (
        "# ID=commented\n"
        "NAME='broken quote\n"
        "ID=debian\n"
        "garbage without equals\n"
        "\n"
        "EMPTY=\n"
        "URL=https://x.org/?a=b\n"
        'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\n'
    )
    assert parse_os_release(text) == {
        "ID": "debian",
        "EMPTY": "",
        "URL": "https://x.org/?a=b",
        "PRETTY_NAME": "Debian GNU/Linux 13 (trixie)",
    }


def test_usr_lib_os_release_is_the_fallback_without_an_issue(tmp_path: Path) -> None:
    _write(tmp_path, "usr/lib/os-release", "ID=ubuntu\nVERSION_ID=24.04\n")
    _write(tmp_path, "proc/sys/kernel/osrelease", "6.8.0\n")
    issues: list[Issue] = []
    os_ = probe_os(tmp_path, issues)
    assert (os_.id, os_.version_id, os_.kernel) == ("ubuntu", "24.04", "6.8.0")
    assert [i for i in issues if "os-release" in i.message] == []


def test_no_os_release_anywhere_names_the_usr_lib_one(tmp_path: Path) -> None:
    _write(tmp_path, "proc/sys/kernel/osrelease", "6.8.0\n")
    issues: list[Issue] = []
    assert probe_os(tmp_path, issues).id is None
    assert [i for i in issues if "os-release" in i.message] == [
        Issue("os", f"{tmp_path / 'usr/lib/os-release'} does not exist")
    ]


def test_efi_without_the_secure_boot_variable_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "sys/firmware/efi/efivars").mkdir(parents=True)
    assert probe_os(tmp_path, []).secure_boot == "unknown"


def _bin_python3_to(root: Path, target: str) -> None:
    _write(root, "etc/os-release", "ID=debian\n")
    _write(root, "proc/sys/kernel/osrelease", "6.1\n")
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/python3").symlink_to(target)


def test_a_link_through_a_directory_starting_with_x(tmp_path: Path) -> None:
    (tmp_path / "Xalt").mkdir()
    (tmp_path / "Xalt/python3").symlink_to("python3.11")
    _bin_python3_to(tmp_path, "/Xalt/python3")
    issues: list[Issue] = []
    assert probe_os(tmp_path, issues).python == "3.11"
    assert issues == []


def test_a_plain_file_python3_has_an_unknown_version(tmp_path: Path) -> None:
    (tmp_path / "Xalt").mkdir()
    (tmp_path / "Xalt/python3").write_text("#!/bin/sh\n")
    _bin_python3_to(tmp_path, "/Xalt/python3")
    issues: list[Issue] = []
    assert probe_os(tmp_path, issues).python is None
    assert issues == [
        Issue("os", "/usr/bin/python3 does not lead to a python3.X; its version is unknown")
    ]


def test_a_python3_that_is_neither_link_nor_file_is_named_under_the_root(tmp_path: Path) -> None:
    (tmp_path / "Xalt/python3").mkdir(parents=True)
    _bin_python3_to(tmp_path, "/Xalt/python3")
    issues: list[Issue] = []
    assert probe_os(tmp_path, issues).python is None
    where = tmp_path / "Xalt/python3"
    assert issues == [Issue("os", f"cannot read {where}: [Errno 22] Invalid argument: '{where}'")]


def test_the_usr_bin_python3_directory_is_named_under_the_root(tmp_path: Path) -> None:
    (tmp_path / "usr/bin/python3").mkdir(parents=True)
    _write(tmp_path, "etc/os-release", "ID=debian\n")
    _write(tmp_path, "proc/sys/kernel/osrelease", "6.1\n")
    issues: list[Issue] = []
    assert probe_os(tmp_path, issues).python is None
    where = tmp_path / "usr/bin/python3"
    assert issues == [Issue("os", f"cannot read {where}: [Errno 22] Invalid argument: '{where}'")]


def test_mount_fields_are_unescaped() -> None:
    mounts = "/dev/my\\011disk\\134x /srv/a\\040b\\012c\\134d ext4 rw 0 0\n"
    assert find_mount(mounts, "/srv/a b\nc\\d/models") == (
        "/srv/a b\nc\\d",
        "ext4",
        "/dev/my\tdisk\\x",
    )


def test_the_last_of_equal_mounts_wins_and_three_fields_are_enough() -> None:
    mounts = "short line\n/dev/a / ext4 rw 0 0\n/dev/b / btrfs\n/dev/c /srv xfs\n"
    assert find_mount(mounts, "/var/lib/x") == ("/", "btrfs", "/dev/b")
    assert find_mount(mounts, "/srv/m") == ("/srv", "xfs", "/dev/c")


def test_without_a_mount_table_the_only_issue_is_the_missing_file(tmp_path: Path) -> None:
    mounts_file = tmp_path / "proc/mounts"
    issues: list[Issue] = []
    storage = probe_storage("/var/lib/x", tmp_path, mounts_file, issues)
    st = os.statvfs(tmp_path)
    assert storage.total_bytes == st.f_blocks * st.f_frsize
    assert (storage.mount_point, storage.filesystem, storage.device) == (None, None, None)
    assert issues == [Issue("storage", f"{mounts_file} does not exist")]


def test_meminfo_units_odd_lines_and_colons() -> None:
    text = (
        "MemTotal:       1000 kB\n"
        "no colon here\n"
        "HugePages_Total:       5\n"
        "Odd: x kB\n"
        "a:b: 3 kB\n"
        "SwapTotal:      2 kB\n"
    )
    assert parse_meminfo(text) == {
        "MemTotal": 1024000,
        "HugePages_Total": 5,
        "SwapTotal": 2048,
    }


def test_a_meminfo_without_memavailable_is_one_issue(tmp_path: Path) -> None:
    _write(tmp_path, "proc/meminfo", "MemTotal: 4 kB\nSwapTotal: 1 kB\nSwapFree: 0 kB\n")
    issues: list[Issue] = []
    assert probe_memory(tmp_path, issues) == Memory(4096, None, 1024, 0)
    assert issues == [Issue("memory", "/proc/meminfo has no MemAvailable line")]


def test_no_meminfo_is_only_the_missing_file(tmp_path: Path) -> None:
    issues: list[Issue] = []
    assert probe_memory(tmp_path, issues) == Memory(None, None, None, None)
    assert issues == [Issue("memory", f"{tmp_path / 'proc/meminfo'} does not exist")]


def _no_nvml() -> Nvml:
    raise ImportError("No module named 'pynvml'")


def test_the_store_is_measured_under_the_root(tmp_path: Path) -> None:
    # /proc has no blocks: a measurement of the link's target, not of the tree's filesystem
    # or the host's /Xstore, shows as zero bytes
    (tmp_path / "Xstore").symlink_to("/proc")
    profile = detect(ProbeSources(root=tmp_path, store_path="/Xstore", nvml_factory=_no_nvml))
    assert profile.storage.total_bytes == 0
    assert os.statvfs(tmp_path).f_blocks > 0

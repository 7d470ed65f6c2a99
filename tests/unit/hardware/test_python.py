"""The release's Python, read from a root: where /usr/bin/python3 leads."""

from __future__ import annotations

from pathlib import Path

import pytest

from lais_agent.hardware.containers import stamp
from lais_agent.hardware.profile import Issue
from lais_agent.hardware.system import probe_os


def _python(root: Path) -> tuple[str | None, list[Issue]]:
    """probe_os on ``root`` given the files it needs besides python3: any issue is python3's."""
    for path, text in (("etc/os-release", "ID=debian\n"), ("proc/sys/kernel/osrelease", "6.1\n")):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    issues: list[Issue] = []
    return probe_os(root, issues).python, issues


def _bin(root: Path) -> Path:
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    return root / "usr/bin"


def test_the_link_debian_and_ubuntu_ship(tmp_path: Path) -> None:
    (_bin(tmp_path) / "python3.13").touch()
    (_bin(tmp_path) / "python3").symlink_to("python3.13")
    assert _python(tmp_path) == ("3.13", [])


def test_links_are_followed_inside_the_root(tmp_path: Path) -> None:
    # update-alternatives style: an absolute link, taken under the root, not the host's /etc
    (tmp_path / "etc/alternatives").mkdir(parents=True)
    (tmp_path / "etc/alternatives/python3").symlink_to("/usr/bin/python3.12")
    (_bin(tmp_path) / "python3").symlink_to("/etc/alternatives/python3")
    assert _python(tmp_path) == ("3.12", [])
    (_bin(tmp_path) / "python3").unlink()
    (_bin(tmp_path) / "python3").symlink_to(
        "../../../../usr/local/bin/python3.11"
    )  # ".." stops at /
    assert _python(tmp_path) == ("3.11", [])


def test_no_python3_is_no_issue(tmp_path: Path) -> None:
    assert _python(tmp_path) == (None, [])


@pytest.mark.parametrize("kind", ["file", "loop", "odd-name"])
def test_a_python3_of_unknown_version_says_so(tmp_path: Path, kind: str) -> None:
    python3 = _bin(tmp_path) / "python3"
    if kind == "file":
        python3.write_bytes(b"\x7fELF")
    elif kind == "loop":
        python3.symlink_to("python3")
    else:
        python3.symlink_to("pypy3")
        (_bin(tmp_path) / "pypy3").touch()
    version, issues = _python(tmp_path)
    assert version is None
    assert issues == [
        Issue("os", "/usr/bin/python3 does not lead to a python3.X; its version is unknown")
    ]


def test_relinking_python3_changes_the_stamp(tmp_path: Path) -> None:
    """The agent probes again before a module call when /usr/bin/python3 changed."""
    before = stamp(tmp_path)
    (_bin(tmp_path) / "python3").symlink_to("python3.11")
    linked = stamp(tmp_path)
    (_bin(tmp_path) / "python3").unlink()
    (_bin(tmp_path) / "python3").symlink_to("python3.13")
    assert len({before, linked, stamp(tmp_path)}) == 3

"""Container support read from files: dpkg's status, podman's generator, CDI specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lais_agent.hardware.containers import dpkg_version, probe_containers, stamp
from lais_agent.hardware.profile import Issue


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Package: podman\nStatus: install ok installed\nVersion: 4.3.1+ds1-8+deb12u1\n", "4.3.1"),
        ("Package: podman\nStatus: install ok installed\nVersion: 2:5.4.2+ds1-1\n", "5.4.2"),
        ("Package: podman\nStatus: deinstall ok config-files\nVersion: 4.3.1\n", None),
        ("Package: podman\nStatus: install ok half-installed\nVersion: 4.3.1\n", None),
        ("Package: podman-docker\nStatus: install ok installed\nVersion: 4.3.1\n", None),
        ("", None),
    ],
)
def test_dpkg_version(status: str, expected: str | None) -> None:
    assert dpkg_version(status, "podman") == expected


def _machine(tmp_path: Path) -> Path:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/podman").touch()
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text(
        "Package: podman\nStatus: install ok installed\nVersion: 4.9.3+ds1-1ubuntu0.2\n"
    )
    return tmp_path


def test_cdi_specs_in_yaml_and_json_with_comments_and_a_linked_run_dir(tmp_path: Path) -> None:
    root = _machine(tmp_path)
    (root / "etc/cdi").mkdir(parents=True)
    (root / "etc/cdi/nvidia.yaml").write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu  # ctk\n")
    (root / "run/cdi").mkdir(parents=True)
    (root / "run/cdi/amd.json").write_text('{"cdiVersion": "0.6.0", "kind": "amd.com/gpu"}')
    (root / "run/cdi/junk.yaml").write_text("devices: []\n")
    (root / "var/run").symlink_to("../run")
    issues: list[Issue] = []
    found = probe_containers(root, issues)
    assert found.cdi_kinds == ("amd.com/gpu", "nvidia.com/gpu")
    assert (found.podman, found.podman_version, found.quadlet) == (True, "4.9.3", False)
    assert [i.message for i in issues] == [
        f"{root / 'run/cdi/junk.yaml'} is not a CDI spec (no kind)"
    ]


def test_podman_not_from_a_package_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/podman").touch()
    issues: list[Issue] = []
    found = probe_containers(tmp_path, issues)
    assert (found.podman, found.podman_version) == (True, None)
    assert "not from a package" in issues[0].message


def test_the_stamp_changes_when_a_spec_is_written_or_podman_installed(tmp_path: Path) -> None:
    before = stamp(tmp_path)
    assert stamp(tmp_path) == before
    (tmp_path / "etc/cdi").mkdir(parents=True)
    spec = tmp_path / "etc/cdi/nvidia.yaml"
    spec.write_text("kind: nvidia.com/gpu\n")
    after_spec = stamp(tmp_path)
    assert after_spec != before
    spec.write_text("kind: nvidia.com/gpu\ndevices: []\n")  # rewritten in place
    assert stamp(tmp_path) != after_spec
    _machine(tmp_path)
    assert stamp(tmp_path) != after_spec

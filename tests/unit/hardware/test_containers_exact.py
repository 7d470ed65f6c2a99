"""Container support read from files: dpkg stanzas, CDI directories and the stamp, exactly."""

from __future__ import annotations

from pathlib import Path

from lais_agent.hardware.containers import (
    CDI_DIRS,
    PODMAN_BINARIES,
    QUADLET_GENERATORS,
    dpkg_version,
    probe_containers,
    stamp,
)
from lais_agent.hardware.profile import ContainerSupport, Issue

PODMAN_OK = "Package: podman\nStatus: install ok installed\nVersion: 4.9.3+ds1-1\n"


def test_a_bare_line_without_a_colon_is_not_a_field() -> None:
    assert dpkg_version(PODMAN_OK + "Package\n", "podman") == "4.9.3"


def test_a_removed_architecture_is_skipped_for_the_installed_one() -> None:
    status = (
        "Package: podman\nStatus: deinstall ok config-files\nArchitecture: i386\n"
        "Version: 3.0.1+dfsg1-3\n\n" + PODMAN_OK
    )
    assert dpkg_version(status, "podman") == "4.9.3"


def _touch(root: Path, rel: str, text: str = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_podman_without_a_package_is_an_exact_issue(tmp_path: Path) -> None:
    _touch(tmp_path, "usr/bin/podman")
    issues: list[Issue] = []
    assert probe_containers(tmp_path, issues) == ContainerSupport(True, None, False, ())
    assert issues == [
        Issue("containers", "podman is present but not from a package; its version is unknown")
    ]


def test_yml_specs_in_every_directory_are_read_and_other_files_skipped(tmp_path: Path) -> None:
    _touch(tmp_path, "etc/cdi/amd.yml", "cdiVersion: 0.6.0\nkind: amd.com/gpu\n")
    (tmp_path / "var/run").mkdir(parents=True)
    (tmp_path / "var/run/cdi").symlink_to("../../etc/cdi")  # seen already: skipped
    _touch(tmp_path, "run/cdi/README", "not a spec\n")
    _touch(tmp_path, "run/cdi/nvidia.yaml", "kind: nvidia.com/gpu\n")
    issues: list[Issue] = []
    assert probe_containers(tmp_path, issues).cdi_kinds == ("amd.com/gpu", "nvidia.com/gpu")
    assert issues == []


def test_the_stamp_of_an_empty_root_names_every_path_it_watches(tmp_path: Path) -> None:
    watched = ("var/lib/dpkg/status", *PODMAN_BINARIES, *QUADLET_GENERATORS, *CDI_DIRS)
    assert stamp(tmp_path) == (None, *((str(tmp_path / p), None) for p in watched))


def test_the_stamp_has_each_existing_file_by_name_time_and_size(tmp_path: Path) -> None:
    status = _touch(tmp_path, "var/lib/dpkg/status", PODMAN_OK)
    spec = _touch(tmp_path, "etc/cdi/nvidia.yaml", "kind: nvidia.com/gpu\n")
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/python3").symlink_to("python3.11")

    def entry(path: Path) -> tuple[object, ...]:
        st = path.stat()
        return (str(path), st.st_mtime_ns, st.st_size)

    missing = (*PODMAN_BINARIES, *QUADLET_GENERATORS)
    assert stamp(tmp_path) == (
        "python3.11",
        entry(status),
        *((str(tmp_path / p), None) for p in missing),
        entry(spec),
        (str(tmp_path / "var/run/cdi"), None),
        (str(tmp_path / "run/cdi"), None),
    )

"""Virtual machines and containers, from what the kernel and the container managers leave.

Every recorded machine is bare metal, so each detection is proven on a small tree
written here: DMI strings, the CPU's hypervisor flag, container marker files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lais_agent.hardware.profile import Issue, Os
from lais_agent.hardware.system import probe_os

BARE_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sse sse2 avx avx2"
VM_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sse sse2 hypervisor lahf_lm"


def cpuinfo(flags: str) -> str:
    return f"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n\n"


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def probe(root: Path) -> Os:
    issues: list[Issue] = []
    return probe_os(root, issues)


@pytest.mark.parametrize(
    ("sys_vendor", "product_name", "expected"),
    [
        ("QEMU", "Standard PC (Q35 + ICH9, 2009)", "qemu"),
        ("Red Hat", "KVM", "kvm"),
        ("VMware, Inc.", "VMware Virtual Platform", "vmware"),
        ("innotek GmbH", "VirtualBox", "oracle"),
        ("Oracle Corporation", "VirtualBox", "oracle"),
        ("Xen", "HVM domU", "xen"),
        ("Amazon EC2", "m5.large", "amazon"),
        ("Google", "Google Compute Engine", "google"),
        ("Microsoft Corporation", "Virtual Machine", "microsoft"),
        ("Parallels Software International Inc.", "Parallels Virtual Platform", "parallels"),
        ("FreeBSD", "BHYVE", "bhyve"),
    ],
)
def test_the_hypervisor_is_named_from_dmi(
    tmp_path: Path, sys_vendor: str, product_name: str, expected: str
) -> None:
    root = tree(
        tmp_path,
        {
            "proc/cpuinfo": cpuinfo(VM_FLAGS),
            "sys/class/dmi/id/sys_vendor": f"{sys_vendor}\n",
            "sys/class/dmi/id/product_name": f"{product_name}\n",
        },
    )
    assert probe(root).virtualization == expected


def test_dmi_alone_names_the_hypervisor_without_the_cpu_flag(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {"proc/cpuinfo": cpuinfo(BARE_FLAGS), "sys/class/dmi/id/sys_vendor": "QEMU\n"},
    )
    assert probe(root).virtualization == "qemu"


def test_the_cpus_hypervisor_flag_alone_is_an_unnamed_vm(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "proc/cpuinfo": cpuinfo(VM_FLAGS),
            "sys/class/dmi/id/sys_vendor": "Some Cloud Ltd\n",
            "sys/class/dmi/id/product_name": "Instance\n",
        },
    )
    assert probe(root).virtualization == "vm-other"


def test_hypervisor_outside_the_flags_line_is_not_a_vm(tmp_path: Path) -> None:
    text = cpuinfo(BARE_FLAGS) + "model name\t: hypervisor-ready CPU\n"
    root = tree(tmp_path, {"proc/cpuinfo": text, "sys/class/dmi/id/sys_vendor": "Dell Inc.\n"})
    assert probe(root).virtualization == "none"


def test_bare_metal_is_none_and_no_cpuinfo_is_unknown(tmp_path: Path) -> None:
    bare = tree(tmp_path / "bare", {"proc/cpuinfo": cpuinfo(BARE_FLAGS)})
    assert probe(bare).virtualization == "none"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert probe(empty).virtualization is None


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"run/systemd/container": "lxc\n"}, "lxc"),
        ({"run/systemd/container": "systemd-nspawn\n", ".dockerenv": ""}, "systemd-nspawn"),
        ({".dockerenv": ""}, "docker"),
        ({"run/systemd/container": "\n", ".dockerenv": ""}, "docker"),
        ({"run/.containerenv": 'engine="podman-4.9.3"\n'}, "podman"),
        ({}, None),
    ],
    ids=[
        "systemd-marker",
        "systemd-marker-first",
        "dockerenv",
        "empty-marker",
        "containerenv",
        "none",
    ],
)
def test_the_container_is_named_from_its_marker(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    root = tree(tmp_path, {"proc/cpuinfo": cpuinfo(BARE_FLAGS), **files})
    assert probe(root).container == expected

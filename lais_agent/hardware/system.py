"""Operating system, kernel, virtualization/container and Secure Boot state."""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from pathlib import Path

from lais_agent.hardware.profile import Issue, Os
from lais_agent.hardware.sources import read_bytes, read_text

COMPONENT = "os"
PYTHON3 = "/usr/bin/python3"
_PYTHON_NAME = re.compile(r"^python(\d+\.\d+)$")
_MAX_LINKS = 8
SECURE_BOOT_VAR = "SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0e2d2e5b"

# (substring of sys_vendor or product_name, systemd-detect-virt style id)
_DMI_VIRT = (
    ("KVM", "kvm"),
    ("QEMU", "qemu"),
    ("VMware", "vmware"),
    ("VirtualBox", "oracle"),
    ("innotek", "oracle"),
    ("Xen", "xen"),
    ("Amazon EC2", "amazon"),
    ("Google Compute Engine", "google"),
    ("Virtual Machine", "microsoft"),
    ("Parallels", "parallels"),
    ("BHYVE", "bhyve"),
)


def parse_os_release(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            continue
        values[key] = parts[0] if parts else ""
    return values


def _container(root: Path, issues: list[Issue]) -> str | None:
    marker = read_text(root / "run/systemd/container", issues, COMPONENT, required=False)
    if marker and marker.strip():
        return marker.strip()
    if (root / ".dockerenv").exists():
        return "docker"
    if (root / "run/.containerenv").exists():
        return "podman"
    return None


def _virtualization(root: Path, issues: list[Issue]) -> str | None:
    cpuinfo = read_text(root / "proc/cpuinfo", issues, COMPONENT, required=False) or ""
    hypervisor = any(
        line.startswith("flags") and " hypervisor" in line for line in cpuinfo.splitlines()
    )
    dmi = " ".join(
        (
            read_text(root / f"sys/class/dmi/id/{name}", issues, COMPONENT, required=False) or ""
        ).strip()
        for name in ("sys_vendor", "product_name")
    )
    for needle, kind in _DMI_VIRT:
        if needle in dmi:
            return kind
    if hypervisor:
        return "vm-other"
    return "none" if cpuinfo else None


def _secure_boot(root: Path, issues: list[Issue]) -> str:
    if not (root / "sys/firmware/efi").is_dir():
        return "unsupported"  # legacy BIOS boot: no Secure Boot
    data = read_bytes(root / "sys/firmware/efi/efivars" / SECURE_BOOT_VAR, issues, COMPONENT)
    if data is None or len(data) < 5:
        return "unknown"
    return "enabled" if data[4] == 1 else "disabled"


def _python(root: Path, issues: list[Issue]) -> str | None:
    """The version of the release's /usr/bin/python3, e.g. "3.11": the name its links
    lead to (Debian and Ubuntu ship it as a link to python3.X). Links are followed
    inside ``root``; an absolute target (/etc/alternatives/...) is taken under it too.
    None when there is none: then no venv mode can be used."""
    path = PYTHON3
    for _ in range(_MAX_LINKS):
        match = _PYTHON_NAME.match(posixpath.basename(path))
        if match:
            return match.group(1)
        try:
            target = os.readlink(root / path.lstrip("/"))
        except FileNotFoundError:
            return None
        except OSError as exc:  # EINVAL: a file, not a link; its version cannot be read
            if not (root / path.lstrip("/")).is_file():
                issues.append(Issue(COMPONENT, f"cannot read {root / path.lstrip('/')}: {exc}"))
                return None
            break
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    issues.append(
        Issue(COMPONENT, f"{PYTHON3} does not lead to a python3.X; its version is unknown")
    )
    return None


def probe_os(root: Path, issues: list[Issue]) -> Os:
    text = read_text(root / "etc/os-release", issues, COMPONENT, required=False)
    if text is None:
        text = read_text(root / "usr/lib/os-release", issues, COMPONENT)
    release = parse_os_release(text or "")
    kernel = read_text(root / "proc/sys/kernel/osrelease", issues, COMPONENT)
    return Os(
        id=release.get("ID"),
        version_id=release.get("VERSION_ID"),
        codename=release.get("VERSION_CODENAME"),
        pretty_name=release.get("PRETTY_NAME"),
        kernel=kernel.strip() if kernel else None,
        virtualization=_virtualization(root, issues),
        container=_container(root, issues),
        secure_boot=_secure_boot(root, issues),
        python=_python(root, issues),
    )

"""What the host offers for running modules in containers: podman and its version,
quadlet (podman >= 4.4 ships the systemd generator), and CDI device specs (how a
container is given a GPU: ``nvidia-ctk cdi generate`` writes ``nvidia.com/gpu``).

Read from files only, under a root, so recorded machines work the same:
podman's version from dpkg's status database (the package that put
``/usr/bin/podman`` there), CDI kinds from ``/etc/cdi`` and ``/var/run/cdi``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from lais_agent.hardware.profile import ContainerSupport, Issue
from lais_agent.hardware.sources import list_dir, read_text

COMPONENT = "containers"
PODMAN_BINARIES = ("usr/bin/podman", "bin/podman")
QUADLET_GENERATORS = (
    "usr/lib/systemd/system-generators/podman-system-generator",
    "lib/systemd/system-generators/podman-system-generator",
    "usr/libexec/podman/quadlet",
)
CDI_DIRS = ("etc/cdi", "var/run/cdi", "run/cdi")
_KIND = re.compile(
    r"^kind:\s*[\"']?([A-Za-z0-9.-]+/[A-Za-z0-9._-]+)[\"']?\s*(?:#.*)?$", re.MULTILINE
)
_UPSTREAM = re.compile(r"^(?:\d+:)?(\d+(?:\.\d+)*)")


def dpkg_version(status_text: str, package: str) -> str | None:
    """The installed version of ``package`` in a dpkg status file, upstream part only
    ("2:4.3.1+ds1-8+b1" -> "4.3.1"); None when it is not installed."""
    for stanza in status_text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith((" ", "\t")):
                fields[key] = value.strip()
        if fields.get("Package") != package:
            continue
        if not fields.get("Status", "").endswith(" installed"):
            continue
        match = _UPSTREAM.match(fields.get("Version", ""))
        return match.group(1) if match else None
    return None


def _cdi_kind(path: Path, text: str) -> str | None:
    if path.suffix == ".json":
        try:
            kind = json.loads(text).get("kind")
        except (ValueError, AttributeError):
            return None
        return kind if isinstance(kind, str) else None
    match = _KIND.search(text)  # a top-level key; a full YAML parse is not needed
    return match.group(1) if match else None


def stamp(root: Path) -> tuple[object, ...]:
    """Changes when what ``probe_containers`` reads may have changed (a package installed
    or removed, a CDI spec written), or the release's python3 (``system.PYTHON3``, which
    decides venv modes): a few stat calls, cheap enough for every module call."""
    paths = [root / p for p in ("var/lib/dpkg/status", *PODMAN_BINARIES, *QUADLET_GENERATORS)]
    for directory in CDI_DIRS:
        try:
            paths += sorted((root / directory).iterdir())  # specs rewritten in place too
        except OSError:
            paths.append(root / directory)
    out: list[object] = []
    try:
        out.append(os.readlink(root / "usr/bin/python3"))  # relinked by hand or an upgrade
    except OSError:
        out.append(None)
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            out.append((str(path), None))
        else:
            out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def probe_containers(root: Path, issues: list[Issue]) -> ContainerSupport:
    podman = any((root / p).exists() for p in PODMAN_BINARIES)
    version = None
    if podman:
        status = read_text(root / "var/lib/dpkg/status", issues, COMPONENT, required=False)
        version = dpkg_version(status or "", "podman")
        if version is None:
            issues.append(
                Issue(COMPONENT, "podman is present but not from a package; its version is unknown")
            )
    quadlet = podman and any((root / p).exists() for p in QUADLET_GENERATORS)
    kinds: set[str] = set()
    seen: set[Path] = set()
    for directory in CDI_DIRS:
        where = (root / directory).resolve()
        if where in seen:  # /var/run is usually a link to /run
            continue
        seen.add(where)
        for spec in list_dir(where, issues, COMPONENT):
            if spec.suffix not in (".yaml", ".yml", ".json"):
                continue
            text = read_text(spec, issues, COMPONENT)
            kind = _cdi_kind(spec, text) if text is not None else None
            if kind is None and text is not None:
                issues.append(Issue(COMPONENT, f"{spec} is not a CDI spec (no kind)"))
            elif kind is not None:
                kinds.add(kind)
    return ContainerSupport(
        podman_version=version if podman else None,
        podman=podman,
        quadlet=quadlet,
        cdi_kinds=tuple(sorted(kinds)),
    )

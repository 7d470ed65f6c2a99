"""Execution-mode selection: how one module version will run here, and why. Pure.

The inputs are the verdict (which described modes are usable on this host under
the policy, and why the others are not), the manifest's preference order and
the caller's choice. The caller's choice wins when usable and is an error when
not; otherwise the first usable mode in the manifest's preference, then any
other usable mode. A container runs as a quadlet where podman has one
(>= 4.4), else as a plain ``podman run`` unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from lais_agent.catalog.installable import Host, Verdict, described_modes
from lais_agent.catalog.manifest import ModuleVersion
from lais_agent.errors import InvalidArgs

QUADLET_MIN_PODMAN = Version("4.4")

# What each mode becomes on the host.
UNIT_KINDS = {
    "native": "systemd service running the verified payload",
    "venv": "systemd service running a Python virtualenv",
    "apt": "distribution packages",
}


@dataclass(frozen=True)
class ModeChoice:
    mode: str
    unit_kind: str  # what runs, e.g. "quadlet container" or "systemd service ..."
    explanation: tuple[str, ...]  # why this mode, and why not each other described mode


class ModeUnavailable(InvalidArgs):
    """The caller asked for a mode this version cannot use here."""

    code = "mode-unavailable"


def container_unit_kind(host: Host) -> tuple[str, str]:
    """The unit form of a container here and the sentence that explains it."""
    version = host.containers.podman_version
    try:
        too_old = version is not None and Version(version) < QUADLET_MIN_PODMAN
    except InvalidVersion:
        too_old = False
    if host.containers.quadlet and not too_old:
        if version is None:
            return "quadlet container", "a quadlet unit (podman's quadlet generator is installed)"
        return "quadlet container", f"a quadlet unit (podman {version} >= {QUADLET_MIN_PODMAN})"
    why = f"podman {version}" if version else "this podman"
    return (
        "podman-run service",
        f"a plain podman-run service unit ({why} has no quadlet; it needs podman >= "
        f"{QUADLET_MIN_PODMAN})",
    )


def choose_mode(
    module: str, ver: ModuleVersion, verdict: Verdict, host: Host, requested: str | None = None
) -> ModeChoice:
    """The mode ``module`` ``ver`` runs in; ``requested`` is the caller's choice, if any."""
    described = described_modes(ver)
    if requested is not None:
        if requested not in verdict.modes:
            why = verdict.mode_notes.get(requested, "not described by this version")
            raise ModeUnavailable(
                f"{module} {ver.version} cannot run in the {requested} mode here: {why}",
                hint="usable modes: " + (", ".join(verdict.modes) or "none"),
            )
        chosen = requested
        lines = [f"{chosen}: you asked for it"]
    else:
        if not verdict.modes:
            raise ModeUnavailable(f"{module} {ver.version} has no usable execution mode here")
        chosen = verdict.modes[0]
        order = ", ".join(ver.modes.prefer)
        if chosen in ver.modes.prefer:
            rank = ver.modes.prefer.index(chosen)
            place = "first" if rank == 0 else f"number {rank + 1}"
            lines = [f"{chosen}: {place} in the manifest's preference ({order}) usable here"]
        else:
            lines = [f"{chosen}: the only usable mode (the manifest prefers {order})"]
    if chosen == "container":
        unit_kind, sentence = container_unit_kind(host)
        lines.append(f"runs as {sentence}")
    else:
        unit_kind = UNIT_KINDS[chosen]
    for mode in described:
        if mode == chosen:
            continue
        if mode in verdict.mode_notes:
            lines.append(f"not {mode}: {verdict.mode_notes[mode]}")
        else:
            lines.append(f"not {mode}: usable, but {chosen} comes first")
    return ModeChoice(chosen, unit_kind, tuple(lines))

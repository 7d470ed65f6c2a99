"""Software resolution: can this version of a module run on this machine, and if
not, why. Pure: takes the manifest, the evaluated capability and host facts.

A version is installable when its hardware needs hold, the policy allows it,
its runtime constraints (CUDA) are met and at least one execution mode is
usable here. Every "no" comes with its reasons, in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from lais_agent.catalog.manifest import UNKNOWN, Manifest, ModuleVersion
from lais_agent.hardware.profile import HardwareProfile
from lais_agent.policy.engine import Capability
from lais_agent.policy.facts import Facts


@dataclass(frozen=True)
class Host:
    """What the machine offers besides hardware: release, architecture, tools."""

    release: str | None  # "debian-12", "ubuntu-24.04"; None when unsupported
    arch: str | None
    python: str  # the interpreter venv modes would use, e.g. "3.11"
    cuda_driver: str | None  # highest CUDA the NVIDIA driver supports, e.g. "12.4"
    podman: bool

    @classmethod
    def from_profile(cls, profile: HardwareProfile, *, python: str, podman: bool) -> Host:
        os_ = profile.os
        release = None
        if os_.id in ("debian", "ubuntu") and os_.version_id:
            release = f"{os_.id}-{os_.version_id}"
        cuda = profile.nvidia.cuda_driver_version if profile.nvidia else None
        return cls(release, profile.cpu.architecture, python, cuda, podman)


@dataclass(frozen=True)
class Verdict:
    version: str
    installable: bool
    modes: tuple[str, ...]  # usable execution modes, in the manifest's preference order
    reasons: tuple[str, ...]  # why not (empty when installable)


def _version_in(text: str | None, spec: SpecifierSet) -> bool:
    if text is None:
        return False
    try:
        return Version(text) in spec
    except InvalidVersion:
        return False


def _hardware_reasons(ver: ModuleVersion, cap: Capability, facts: Facts) -> list[str]:
    hw = ver.needs.hardware
    reasons = []
    if hw.min_rank is not None and cap.rank < hw.min_rank:
        reasons.append(f"needs capability tier rank >= {hw.min_rank}; this machine is {cap.tier}")
    if hw.gpu == "required":
        if facts.gpu_count == 0:
            reasons.append("needs a GPU; none is usable here")
        elif hw.gpu_vendors and not facts.gpu_vendors & set(hw.gpu_vendors):
            reasons.append(f"needs a GPU from {' or '.join(hw.gpu_vendors)}")
        if hw.min_vram_gib is not None and facts.vram_per_gpu_gib < hw.min_vram_gib:
            reasons.append(
                f"needs {hw.min_vram_gib:g} GiB VRAM; the largest GPU has "
                f"{facts.vram_per_gpu_gib:.1f} GiB"
            )
    if hw.min_ram_gib is not None and facts.ram_gib < hw.min_ram_gib:
        reasons.append(f"needs {hw.min_ram_gib:g} GiB RAM; this machine has {facts.ram_gib:.1f}")
    for feature in hw.cpu_features:
        if feature not in facts.cpu_features:
            reasons.append(f"needs the CPU feature {feature}")
    return reasons


def _runtime_reasons(ver: ModuleVersion, host: Host) -> list[str]:
    reasons = []
    for text in ver.needs.runtime:
        req = Requirement(text)
        if req.name == "cuda" and not _version_in(host.cuda_driver, req.specifier):
            have = (
                f"the driver supports CUDA {host.cuda_driver}"
                if host.cuda_driver
                else ("no NVIDIA driver")
            )
            reasons.append(f"needs CUDA {req.specifier}; {have}")
    return reasons


def _mode_reasons(ver: ModuleVersion, host: Host) -> tuple[list[str], list[str]]:
    usable: list[str] = []
    reasons: list[str] = []
    modes = ver.modes
    for mode in modes.prefer:
        if mode == "apt" and modes.apt is not None:
            if host.release in modes.apt.packages:
                usable.append(mode)
            else:
                reasons.append(f"apt: no packages listed for {host.release or 'this release'}")
        elif mode == "native" and modes.native is not None:
            art = modes.native.artifacts.get(host.arch or "")  # type: ignore[call-overload]
            if art is None:
                reasons.append(f"native: no artifact for {host.arch}")
            elif art.sha256 == UNKNOWN:
                reasons.append("native: the artifact's sha256 is unknown, it cannot be verified")
            else:
                usable.append(mode)
        elif mode == "container" and modes.container is not None:
            if not host.podman:
                reasons.append("container: podman is not installed")
            elif modes.container.digest == UNKNOWN:
                reasons.append("container: the image digest is unknown, it cannot be pinned")
            else:
                usable.append(mode)
        elif mode == "venv" and modes.venv is not None:
            if _version_in(host.python, SpecifierSet(modes.venv.python)):
                usable.append(mode)
            else:
                reasons.append(
                    f"venv: needs Python {modes.venv.python}; this system has {host.python}"
                )
    return usable, reasons


def judge(
    manifest: Manifest, ver: ModuleVersion, cap: Capability, facts: Facts, host: Host
) -> Verdict:
    reasons = _hardware_reasons(ver, cap, facts) + _runtime_reasons(ver, host)
    name = manifest.metadata.name
    if manifest.metadata.category == "runtime" and not cap.runtime_allowed(name):
        reasons.append(f"the capability policy does not allow the runtime {name} on {cap.tier}")
    usable, mode_reasons = _mode_reasons(ver, host)
    if not usable:
        reasons += mode_reasons or ["no execution mode is described"]
    return Verdict(ver.version, not reasons, tuple(usable), tuple(reasons))

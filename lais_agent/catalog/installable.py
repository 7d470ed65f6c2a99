"""Software resolution: can this version of a module run on this machine, and if
not, why. Pure: takes the manifest, the evaluated capability and host facts.

A version is installable when its hardware needs hold, the policy allows it,
its runtime constraints (CUDA) are met and at least one execution mode is
usable here. Every "no" comes with its reasons, in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from lais_agent.catalog.manifest import MODES, UNKNOWN, ContainerMode, Manifest, ModuleVersion
from lais_agent.hardware.profile import NO_CONTAINERS, ContainerSupport, HardwareProfile
from lais_agent.policy.engine import Capability
from lais_agent.policy.facts import Facts


@dataclass(frozen=True)
class Host:
    """What the machine offers besides hardware: release, architecture, tools."""

    release: str | None  # "debian-12", "ubuntu-24.04"; None when unsupported
    arch: str | None
    python: str | None  # the release's /usr/bin/python3 venv modes build from, e.g. "3.11"
    cuda_driver: str | None  # highest CUDA the NVIDIA driver supports, e.g. "12.4"
    containers: ContainerSupport = NO_CONTAINERS
    render_vendors: frozenset[str] = frozenset()  # vendors of GPUs with a DRM render node

    @classmethod
    def from_profile(cls, profile: HardwareProfile) -> Host:
        """The machine the profile describes, recorded or real: its Python too is the
        release's (``profile.os.python``), never the interpreter judging it."""
        os_ = profile.os
        release = None
        if os_.id in ("debian", "ubuntu") and os_.version_id:
            release = f"{os_.id}-{os_.version_id}"
        cuda = profile.nvidia.cuda_driver_version if profile.nvidia else None
        render = frozenset(g.vendor for g in profile.gpus if g.render_node and g.driver)
        return cls(release, profile.cpu.architecture, os_.python, cuda, profile.containers, render)


@dataclass(frozen=True)
class Verdict:
    version: str
    installable: bool
    modes: tuple[str, ...]  # usable execution modes, in the manifest's preference order
    reasons: tuple[str, ...]  # why not (empty when installable)
    mode_notes: dict[str, str] = field(default_factory=dict)  # described mode -> why unusable


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


NVIDIA_CDI_KIND = "nvidia.com/gpu"


def _container_problem(mode: ContainerMode, host: Host, facts: Facts) -> str | None:
    if mode.digest == UNKNOWN:  # first: installing podman would not help
        return "the image digest is unknown, it cannot be pinned"
    if not host.containers.podman:
        return "podman is not installed (apt install podman)"
    if mode.gpu == "cdi-nvidia" and NVIDIA_CDI_KIND not in host.containers.cdi_kinds:
        return (
            "no CDI spec gives containers the NVIDIA GPUs (nvidia-container-toolkit: "
            "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml)"
        )
    if mode.gpu == "amd-kfd" and "amd" not in facts.gpu_vendors:
        return "needs an AMD GPU with the amdgpu driver (/dev/kfd)"
    if mode.gpu == "intel-dri" and "intel" not in host.render_vendors:
        return "needs an Intel GPU with a DRM render node"
    return None


def _mode_problem(ver: ModuleVersion, mode: str, host: Host, facts: Facts) -> str | None:
    """Why ``mode`` cannot be used for this version here; None when it can."""
    modes = ver.modes
    if mode == "apt" and modes.apt is not None:
        if host.release not in modes.apt.packages:
            return f"no packages listed for {host.release or 'this release'}"
        return None
    if mode == "native" and modes.native is not None:
        art = modes.native.artifacts.get(host.arch or "")  # type: ignore[call-overload]
        if art is None:
            return f"no artifact for {host.arch}"
        if art.sha256 == UNKNOWN:
            return "the artifact's sha256 is unknown, it cannot be verified"
        return None
    if mode == "container" and modes.container is not None:
        return _container_problem(modes.container, host, facts)
    if mode == "venv" and modes.venv is not None:
        if not _version_in(host.python, SpecifierSet(modes.venv.python)):
            have = host.python or "no /usr/bin/python3"
            return f"needs Python {modes.venv.python}; this system has {have}"
        return None
    return "not described by this version"


def described_modes(ver: ModuleVersion) -> tuple[str, ...]:
    """Every mode the version describes: preferred ones first, then the rest."""
    rest = [m for m in MODES if getattr(ver.modes, m) is not None and m not in ver.modes.prefer]
    return (*ver.modes.prefer, *rest)


def _modes(
    ver: ModuleVersion, host: Host, facts: Facts, cap: Capability
) -> tuple[list[str], dict[str, str]]:
    usable: list[str] = []
    notes: dict[str, str] = {}
    for mode in described_modes(ver):
        if mode in cap.limits.denied_modes:
            problem: str | None = f"the capability policy denies the {mode} mode on {cap.tier}"
        else:
            problem = _mode_problem(ver, mode, host, facts)
        if problem is None:
            usable.append(mode)
        else:
            notes[mode] = problem
    return usable, notes


def judge(
    manifest: Manifest, ver: ModuleVersion, cap: Capability, facts: Facts, host: Host
) -> Verdict:
    reasons = _hardware_reasons(ver, cap, facts) + _runtime_reasons(ver, host)
    name = manifest.metadata.name
    if manifest.metadata.category == "runtime" and not cap.runtime_allowed(name):
        reasons.append(f"the capability policy does not allow the runtime {name} on {cap.tier}")
    usable, notes = _modes(ver, host, facts, cap)
    if not usable:
        reasons += [f"{mode}: {why}" for mode, why in notes.items()]
    return Verdict(ver.version, not reasons, tuple(usable), tuple(reasons), notes)


class Judgements:
    """``judge`` for one machine, each (module, version) judged once: the resolver asks
    about the same versions again and again while it backtracks."""

    def __init__(self, cap: Capability, facts: Facts, host: Host) -> None:
        self._args = (cap, facts, host)
        self._seen: dict[tuple[str, str], Verdict] = {}

    def __call__(self, manifest: Manifest, ver: ModuleVersion) -> Verdict:
        key = (manifest.metadata.name, ver.version)
        if key not in self._seen:
            self._seen[key] = judge(manifest, ver, *self._args)
        return self._seen[key]

    def reasons(self, manifest: Manifest, ver: ModuleVersion) -> tuple[str, ...]:
        """The resolver's judge: why this version cannot be installed here (empty: it can)."""
        return self(manifest, ver).reasons

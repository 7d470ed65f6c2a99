"""Install plans (dry runs): what installing some modules would take here. Pure.

A plan is the resolver's ordered steps, each with the version the machine can
install, the execution mode chosen for it and why, what would be downloaded
(with the checksum it is verified against), and the disk, RAM and VRAM it
needs; then the totals and anything that stands in the way. Nothing is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.version import Version

from lais_agent.catalog.installable import Host, Judgements
from lais_agent.catalog.manifest import MODES, Manifest, ModuleVersion
from lais_agent.catalog.modes import ModeChoice, choose_mode
from lais_agent.catalog.resolver import ResolutionError, resolve
from lais_agent.errors import InvalidArgs
from lais_agent.policy.engine import Capability
from lais_agent.policy.facts import Facts

GiB = 1024**3
MAX_REQUESTS = 64


@dataclass(frozen=True)
class PlanOptions:
    mode: str | None = None  # execution mode for the requested modules


@dataclass(frozen=True)
class Download:
    kind: str  # "artifact" | "image" | "python-packages" | "apt-packages"
    source: str  # a URL, image@digest, requirement list or package list
    verified_by: str  # how its integrity is checked, e.g. "sha256:…"


@dataclass(frozen=True)
class PlannedStep:
    module: str
    version: str
    category: str
    action: str  # "install"
    mode: str
    unit_kind: str
    requested_by: tuple[str, ...]
    explanation: tuple[str, ...]  # why this mode
    downloads: tuple[Download, ...]
    ports: tuple[str, ...]  # "http 8000/tcp"
    provides: tuple[str, ...]
    disk_bytes: int | None  # None: the manifest does not say
    ram_bytes: int | None
    vram_bytes: int | None


@dataclass(frozen=True)
class InstallPlan:
    requested: tuple[str, ...]
    tier: str
    steps: tuple[PlannedStep, ...]  # dependencies before dependents
    download_count: int
    disk_bytes: int  # sum of the known sizes
    disk_unknown: tuple[str, ...]  # modules whose size the manifest does not give
    disk_free_bytes: int | None
    ram_bytes: int  # the largest single need (services are separate processes)
    vram_bytes: int
    warnings: tuple[str, ...]


def _gib(value: float | None) -> int | None:
    return None if value is None else int(value * GiB)


def _major(version: str | None) -> int | None:
    try:
        return int((version or "").split(".")[0])
    except ValueError:
        return None


def _wheel_index(ver: ModuleVersion, host: Host, facts: Facts) -> tuple[str | None, str]:
    venv = ver.modes.venv
    assert venv is not None
    index = venv.wheel_index
    driver_major = _major(host.cuda_driver)
    if driver_major is not None:  # the newest CUDA build the driver can run
        builds = sorted(
            (int(key.removeprefix("cuda")), key) for key in index if key.startswith("cuda")
        )
        usable = [key for major, key in builds if major <= driver_major]
        if usable:
            key = usable[-1]
            return index[key], (
                f"CUDA {key.removeprefix('cuda')} wheels (the driver supports CUDA "
                f"{host.cuda_driver})"
            )
    if "amd" in facts.gpu_vendors and "rocm" in index:
        return index["rocm"], "ROCm wheels (an AMD GPU is in use)"
    if "cpu" in index:
        return index["cpu"], "CPU-only wheels"
    return None, "wheels from PyPI"


def _downloads(
    ver: ModuleVersion, mode: str, host: Host, facts: Facts
) -> tuple[list[Download], list[str]]:
    out: list[Download] = []
    notes: list[str] = []
    modes = ver.modes
    if mode == "native" and modes.native is not None:
        art = modes.native.artifacts[host.arch]  # type: ignore[index]
        out.append(Download("artifact", art.url, f"sha256:{art.sha256}"))
    elif mode == "container" and modes.container is not None:
        image = modes.container.image.rsplit(":", 1)[0]
        out.append(Download("image", f"{image}@{modes.container.digest}", modes.container.digest))
    elif mode == "venv" and modes.venv is not None:
        index, why = _wheel_index(ver, host, facts)
        source = " ".join(modes.venv.requirements) + (f" (index {index})" if index else "")
        # The manifest pins versions, not hashes (dependencies are resolved at install):
        # say so rather than claim a check that does not happen.
        out.append(Download("python-packages", source, "TLS to the index only, no pinned hashes"))
        notes.append(f"python packages: {why}")
    elif mode == "apt" and modes.apt is not None:
        packages = modes.apt.packages[host.release]  # type: ignore[index]
        out.append(Download("apt-packages", " ".join(packages), "the archive's signatures"))
    extra = ver.needs.system_packages.get(host.release)  # type: ignore[call-overload]
    if extra:
        out.append(Download("apt-packages", " ".join(extra), "the archive's signatures"))
    return out, notes


def _requests(texts: Sequence[str]) -> list[Requirement]:
    if not texts:
        raise InvalidArgs("name at least one module to plan")
    if len(texts) > MAX_REQUESTS:
        raise InvalidArgs(f"at most {MAX_REQUESTS} modules in one plan, not {len(texts)}")
    out = []
    for text in texts:
        try:
            req = Requirement(text)
        except ValueError:
            req = None
        if req is None or req.marker or req.extras or req.url:
            raise InvalidArgs(
                f"{text!r} is not a module name with optional versions, like 'vllm' or "
                "'aider>=0.80'"
            )
        out.append(req)
    return out


def plan_install(
    catalog: Mapping[str, Manifest],
    requests: Sequence[str],
    options: PlanOptions,
    *,
    capability: Capability,
    facts: Facts,
    host: Host,
    disk_free_bytes: int | None,
) -> InstallPlan:
    if options.mode is not None and options.mode not in MODES:
        raise InvalidArgs(
            f"{options.mode!r} is not an execution mode; use one of {', '.join(MODES)}"
        )
    wanted = _requests(requests)
    requested = {r.name for r in wanted}
    verdict = Judgements(capability, facts, host)

    def refusal(manifest: Manifest, ver: ModuleVersion) -> list[str]:
        v = verdict(manifest, ver)
        reasons = list(v.reasons)
        mode = options.mode
        forced = mode and manifest.metadata.name in requested and v.installable
        if forced and mode not in v.modes:
            why = v.mode_notes.get(mode or "", "not described by this version")
            reasons.append(f"you asked for the {mode} mode: {why}")
        return reasons

    try:
        plan = resolve(catalog, [str(r) for r in wanted], judge=refusal)
    except ResolutionError as exc:
        name = next(iter(requested)) if len(requested) == 1 else "NAME"
        exc.hint = exc.hint or f"`laisctl module info {name}` shows each version and why"
        raise
    steps: list[PlannedStep] = []
    warnings: list[str] = []
    for step in plan.steps:
        manifest = catalog[step.module]
        ver = next(v for v in manifest.versions if Version(v.version) == Version(step.version))
        wanted_mode = options.mode if step.module in requested else None
        choice: ModeChoice = choose_mode(
            step.module, ver, verdict(manifest, ver), host, wanted_mode
        )
        downloads, notes = _downloads(ver, choice.mode, host, facts)
        hw = ver.needs.hardware
        service = manifest.service
        steps.append(
            PlannedStep(
                module=step.module,
                version=step.version,
                category=manifest.metadata.category,
                action="install",
                mode=choice.mode,
                unit_kind=choice.unit_kind,
                requested_by=step.requested_by,
                explanation=(*choice.explanation, *notes),
                downloads=tuple(downloads),
                ports=tuple(f"{p.name} {p.port}/{p.protocol}" for p in service.ports)
                if service
                else (),
                provides=manifest.interfaces.provides,
                disk_bytes=_gib(hw.disk_gib),
                ram_bytes=_gib(hw.min_ram_gib),
                vram_bytes=_gib(hw.min_vram_gib) if hw.gpu != "none" else None,
            )
        )
    disk = sum(s.disk_bytes or 0 for s in steps)
    unknown = tuple(s.module for s in steps if s.disk_bytes is None)
    if disk_free_bytes is not None and disk > disk_free_bytes:
        warnings.append(
            f"needs {disk / GiB:.1f} GiB of disk; the model store's filesystem has "
            f"{disk_free_bytes / GiB:.1f} GiB free"
        )
    if unknown:
        warnings.append(
            "the manifests do not give the disk size of " + ", ".join(unknown) + "; "
            "the total leaves them out"
        )
    return InstallPlan(
        requested=tuple(str(r) for r in wanted),
        tier=capability.tier,
        steps=tuple(steps),
        download_count=sum(len(s.downloads) for s in steps),
        disk_bytes=disk,
        disk_unknown=unknown,
        disk_free_bytes=disk_free_bytes,
        ram_bytes=max((s.ram_bytes or 0 for s in steps), default=0),
        vram_bytes=max((s.vram_bytes or 0 for s in steps), default=0),
        warnings=tuple(warnings),
    )

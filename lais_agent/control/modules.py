"""The agent's view of the catalog: manifests loaded once (cached parse), and for
this machine which module versions are installable and why the others are not,
and what installing some of them would take (a plan, never an action)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lais_agent.hardware.profile import HardwareProfile

if TYPE_CHECKING:
    from lais_agent.catalog.installable import Host
    from lais_agent.catalog.planning import InstallPlan, PlanOptions
    from lais_agent.catalog.registry import Catalog
    from lais_agent.policy.engine import Capability

# Until installation exists every catalog module is only available (docs/dbus-api.md).
STATE_AVAILABLE = "available"


@dataclass(frozen=True)
class VersionSummary:
    version: str
    installable: bool
    modes: tuple[str, ...]  # usable here, preferred first
    reasons: tuple[str, ...]  # why not installable
    unusable_modes: tuple[str, ...]  # "container: podman is not installed"


@dataclass(frozen=True)
class ModuleSummary:
    name: str
    category: str
    title: str
    description: str
    homepage: str
    license: str
    provides: tuple[str, ...]
    consumes: tuple[str, ...]
    state: str
    source: str  # the manifest file
    versions: tuple[str, ...]  # newest first
    installable: bool
    best_version: str | None  # newest installable version
    modes: tuple[str, ...]  # usable modes of best_version, preferred first
    reasons: tuple[str, ...]  # when not installable: why, for each version
    version_details: tuple[VersionSummary, ...]


def _python() -> str:
    # The interpreter venv modes would build from: the agent runs on the release's
    # /usr/bin/python3 (the bundled virtualenv is made from it).
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def host_of(profile: HardwareProfile) -> Host:
    from lais_agent.catalog.installable import Host  # noqa: PLC0415

    return Host.from_profile(profile, python=_python())


class ModuleService:
    def __init__(self, shipped: Path, admin: Path, cache: Path | None) -> None:
        self._shipped = shipped
        self._admin = admin
        self._cache = cache
        self._catalog: Catalog | None = None
        self._lock = asyncio.Lock()

    def _load(self) -> Catalog:
        from lais_agent.catalog.registry import load_catalog  # noqa: PLC0415 - pydantic: lazy

        return load_catalog(self._shipped, self._admin, cache=self._cache)

    async def catalog(self) -> Catalog:
        async with self._lock:
            if self._catalog is None:
                self._catalog = await asyncio.to_thread(self._load)
            return self._catalog

    def reload(self) -> None:
        self._catalog = None

    async def summaries(
        self, profile: HardwareProfile, capability: Capability
    ) -> list[ModuleSummary]:
        catalog = await self.catalog()
        return await asyncio.to_thread(_summaries, catalog, profile, capability)

    async def plan(
        self,
        profile: HardwareProfile,
        capability: Capability,
        requests: Sequence[str],
        options: PlanOptions,
    ) -> InstallPlan:
        catalog = await self.catalog()
        return await asyncio.to_thread(_plan, catalog, profile, capability, requests, options)


def _plan(
    catalog: Catalog,
    profile: HardwareProfile,
    capability: Capability,
    requests: Sequence[str],
    options: PlanOptions,
) -> InstallPlan:
    from lais_agent.catalog.planning import plan_install  # noqa: PLC0415
    from lais_agent.policy.facts import facts_from  # noqa: PLC0415

    return plan_install(
        catalog.modules,
        requests,
        options,
        capability=capability,
        facts=facts_from(profile),
        host=host_of(profile),
        disk_free_bytes=profile.storage.free_bytes,
    )


def _summaries(
    catalog: Catalog, profile: HardwareProfile, capability: Capability
) -> list[ModuleSummary]:
    from packaging.version import Version  # noqa: PLC0415

    from lais_agent.catalog.installable import judge  # noqa: PLC0415
    from lais_agent.policy.facts import facts_from  # noqa: PLC0415

    facts = facts_from(profile)
    host = host_of(profile)
    out = []
    for name, manifest in sorted(catalog.modules.items()):
        versions = sorted(manifest.versions, key=lambda v: Version(v.version), reverse=True)
        verdicts = [judge(manifest, v, capability, facts, host) for v in versions]
        best = next((v for v in verdicts if v.installable), None)
        reasons = () if best else tuple(f"{v.version}: {r}" for v in verdicts for r in v.reasons)
        meta = manifest.metadata
        out.append(
            ModuleSummary(
                name=name,
                category=meta.category,
                title=meta.title,
                description=meta.description,
                homepage=meta.homepage,
                license=meta.license,
                provides=manifest.interfaces.provides,
                consumes=manifest.interfaces.consumes,
                state=STATE_AVAILABLE,
                source=catalog.sources[name],
                versions=tuple(v.version for v in versions),
                installable=best is not None,
                best_version=best.version if best else None,
                modes=best.modes if best else (),
                reasons=reasons,
                version_details=tuple(
                    VersionSummary(
                        version=v.version,
                        installable=v.installable,
                        modes=v.modes,
                        reasons=v.reasons,
                        unusable_modes=tuple(f"{m}: {why}" for m, why in v.mode_notes.items()),
                    )
                    for v in verdicts
                ),
            )
        )
    return out

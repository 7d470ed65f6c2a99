"""The agent's view of the catalog: manifests loaded once (cached parse), and for
this machine which module versions are installable and why the others are not,
and what installing some of them would take (a plan, never an action)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lais_agent.control.manifests import ManifestCheck, check_manifest
from lais_agent.errors import LaisError
from lais_agent.hardware.profile import HardwareProfile

if TYPE_CHECKING:
    from lais_agent.catalog.installable import Host
    from lais_agent.catalog.planning import InstallPlan, PlanOptions
    from lais_agent.catalog.registry import Catalog
    from lais_agent.catalog.signing import TrustedKeys
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
    signed_by: str | None  # the trusted key whose signature verified; None: unsigned
    versions: tuple[str, ...]  # newest first
    installable: bool
    best_version: str | None  # newest installable version
    modes: tuple[str, ...]  # usable modes of best_version, preferred first
    reasons: tuple[str, ...]  # when not installable: why, for each version
    version_details: tuple[VersionSummary, ...]


def host_of(profile: HardwareProfile) -> Host:
    from lais_agent.catalog.installable import Host  # noqa: PLC0415

    return Host.from_profile(profile)


@dataclass(frozen=True)
class CatalogPaths:
    shipped: Path  # /usr/share/localaistack/catalog
    admin: Path  # /etc/localaistack/catalog.d
    keys: tuple[Path, ...]  # trusted signing keys: shipped, then the administrator's
    cache: Path | None  # the validated-manifest cache


class ModuleService:
    def __init__(self, paths: CatalogPaths) -> None:
        self._paths = paths
        self._catalog: Catalog | None = None
        self._keys: TrustedKeys | None = None
        self._lock = asyncio.Lock()

    def _load_keys(self) -> TrustedKeys:
        from lais_agent.catalog.signing import load_keys  # noqa: PLC0415 - cryptography: lazy

        return load_keys(*self._paths.keys)

    def _load(self) -> tuple[TrustedKeys, Catalog]:
        from lais_agent.catalog.registry import load_catalog  # noqa: PLC0415 - pydantic: lazy

        keys = self._load_keys()
        p = self._paths
        return keys, load_catalog(p.shipped, p.admin, cache=p.cache, keys=keys)

    async def catalog(self) -> Catalog:
        async with self._lock:
            if self._catalog is None:
                keys, catalog = await asyncio.to_thread(self._load)
                self._keys, self._catalog = keys, catalog
                return catalog
            return self._catalog

    async def check(self, text: str, source: str) -> ManifestCheck:
        """A manifest someone is writing, checked as the catalog would (signature included)."""
        async with self._lock:
            if self._keys is None:
                self._keys = await asyncio.to_thread(self._load_keys)
            keys = self._keys
        return await asyncio.to_thread(check_manifest, text, source, keys)

    async def reload(self) -> None:
        """Forget the loaded files. Waits for a load in flight, so that load's result
        (read before the files changed) is not what the next call sees."""
        async with self._lock:
            self._catalog = None
            self._keys = None

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
    """Every module judged here. A version counts as installable only when its
    dependencies can be installed here too (the plan for it resolves)."""
    from packaging.version import Version  # noqa: PLC0415

    from lais_agent.catalog.installable import Judgements  # noqa: PLC0415
    from lais_agent.catalog.resolver import resolve  # noqa: PLC0415
    from lais_agent.policy.facts import facts_from  # noqa: PLC0415

    facts = facts_from(profile)
    host = host_of(profile)
    verdict = Judgements(capability, facts, host)

    out = []
    for name, manifest in sorted(catalog.modules.items()):
        details = []
        for ver in sorted(manifest.versions, key=lambda v: Version(v.version), reverse=True):
            v = verdict(manifest, ver)
            installable, reasons = v.installable, v.reasons
            if installable:
                try:
                    resolve(catalog.modules, [f"{name}=={ver.version}"], verdict.reasons)
                except LaisError as exc:  # a dependency cannot be installed here
                    installable, reasons = False, (str(exc),)
            details.append(
                VersionSummary(
                    version=v.version,
                    installable=installable,
                    modes=v.modes if installable else (),
                    reasons=reasons,
                    unusable_modes=tuple(f"{m}: {why}" for m, why in v.mode_notes.items()),
                )
            )
        best = next((d for d in details if d.installable), None)
        reasons = () if best else tuple(f"{d.version}: {r}" for d in details for r in d.reasons)
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
                signed_by=catalog.signed_by.get(name),
                versions=tuple(d.version for d in details),
                installable=best is not None,
                best_version=best.version if best else None,
                modes=best.modes if best else (),
                reasons=reasons,
                version_details=tuple(details),
            )
        )
    return out

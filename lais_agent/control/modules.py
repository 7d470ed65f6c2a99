"""The agent's view of the catalog: manifests loaded once (cached parse), and for
this machine which module versions are installable and why the others are not."""

from __future__ import annotations

import asyncio
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lais_agent.hardware.profile import HardwareProfile

if TYPE_CHECKING:
    from lais_agent.catalog.registry import Catalog
    from lais_agent.policy.engine import Capability


@dataclass(frozen=True)
class ModuleSummary:
    name: str
    category: str
    title: str
    versions: tuple[str, ...]  # newest first
    installable: bool
    best_version: str | None  # newest installable version
    modes: tuple[str, ...]  # usable modes of best_version, preferred first
    reasons: tuple[str, ...]  # when not installable: why, for each version


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


def _summaries(
    catalog: Catalog, profile: HardwareProfile, capability: Capability
) -> list[ModuleSummary]:
    from packaging.version import Version  # noqa: PLC0415

    from lais_agent.catalog.installable import Host, judge  # noqa: PLC0415
    from lais_agent.policy.facts import facts_from  # noqa: PLC0415

    facts = facts_from(profile)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    host = Host.from_profile(profile, python=python, podman=shutil.which("podman") is not None)
    out = []
    for name, manifest in sorted(catalog.modules.items()):
        versions = sorted(manifest.versions, key=lambda v: Version(v.version), reverse=True)
        verdicts = [judge(manifest, v, capability, facts, host) for v in versions]
        best = next((v for v in verdicts if v.installable), None)
        reasons = () if best else tuple(f"{v.version}: {r}" for v in verdicts for r in v.reasons)
        out.append(
            ModuleSummary(
                name=name,
                category=manifest.metadata.category,
                title=manifest.metadata.title,
                versions=tuple(v.version for v in versions),
                installable=best is not None,
                best_version=best.version if best else None,
                modes=best.modes if best else (),
                reasons=reasons,
            )
        )
    return out

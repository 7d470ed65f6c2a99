"""The agent's view of what this machine may run: policies loaded once (lazily,
pydantic is heavy) and evaluated once per hardware profile."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from lais_agent.control.overrides import OverrideStore
from lais_agent.hardware.profile import HardwareProfile
from lais_agent.policy.overrides import Override, apply

if TYPE_CHECKING:
    from lais_agent.policy.engine import Capability
    from lais_agent.policy.loader import PolicySet


class CapabilityService:
    def __init__(self, shipped: Path, admin: Path, overrides: OverrideStore) -> None:
        self._shipped = shipped
        self._admin = admin
        self._overrides = overrides
        self._policies: PolicySet | None = None
        self._cache: tuple[HardwareProfile, Capability] | None = None
        self._lock = asyncio.Lock()

    def _load(self) -> PolicySet:
        from lais_agent.policy.loader import load_policies  # noqa: PLC0415 - pydantic: lazy

        return load_policies(self._shipped, self._admin)

    async def capability(self, profile: HardwareProfile) -> Capability:
        """The tier and limits for ``profile``; raises InvalidConfig for bad policy files."""
        async with self._lock:
            if self._cache is not None and self._cache[0] is profile:
                return self._cache[1]
            if self._policies is None:
                self._policies = await asyncio.to_thread(self._load)
            from lais_agent.policy.engine import evaluate  # noqa: PLC0415
            from lais_agent.policy.facts import facts_from  # noqa: PLC0415

            policies = self._policies
            result = evaluate(policies.tiers, policies.policies, facts_from(profile))
            result = apply(result, await asyncio.to_thread(self._overrides.all))
            self._cache = (profile, result)
            return result

    async def add_override(
        self,
        *,
        uid: int,
        user: str,
        reason: str,
        limits: dict[str, float],
        allow: tuple[str, ...],
        deny: tuple[str, ...],
    ) -> Override:
        async with self._lock:
            override = await asyncio.to_thread(
                lambda: self._overrides.add(
                    uid=uid, user=user, reason=reason, limits=limits, allow=allow, deny=deny
                )
            )
            self._cache = None
            return override

    async def revert_override(self, override_id: str, *, user: str, reason: str) -> Override:
        async with self._lock:
            override = await asyncio.to_thread(
                lambda: self._overrides.revert(override_id, user=user, reason=reason)
            )
            self._cache = None
            return override

    async def overrides(self) -> list[Override]:
        return await asyncio.to_thread(self._overrides.all)

    async def reload(self) -> None:
        """Forget the loaded files; the next evaluation reads them again (after waiting
        for an evaluation in flight, which may hold files read before the change)."""
        async with self._lock:
            self._policies = None
            self._cache = None

"""``org.localaistack.Agent1.Manager`` at ``/org/localaistack/Agent1``.

Thin: each member converts and calls one service. Authorization happened
before (see ``gate.py``); errors are translated by ``translate_errors``.
The ``a{sv}`` trees are documented key by key in docs/dbus-api.md.
"""

# No "from __future__ import annotations": dbus-fast reads these annotations at runtime.

import asyncio
import os
import socket
import time
from typing import Annotated

from dbus_fast import Variant
from dbus_fast.annotations import DBusBool, DBusDict, DBusSignature, DBusStr
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from lais_agent import __version__, names
from lais_agent.bus.caller import current_caller
from lais_agent.bus.errors import translate_errors, translate_errors_sync
from lais_agent.bus.wire import to_vardict
from lais_agent.control.capability import CapabilityService
from lais_agent.control.hardware import HardwareService, significant_change
from lais_agent.control.manifests import check_manifest
from lais_agent.control.modules import ModuleService
from lais_agent.control.status import AgentClock, AgentIdentity, summarize
from lais_agent.errors import InvalidArgs
from lais_agent.hardware.profile import HardwareProfile

DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusDictList = Annotated[list[dict[str, Variant]], DBusSignature("aa{sv}")]


def hardware_vardict(profile: HardwareProfile) -> dict[str, Variant]:
    return to_vardict(profile, total_vram_bytes=Variant("x", profile.total_vram_bytes))


class ManagerInterface(ServiceInterface):
    def __init__(
        self, hardware: HardwareService, capability: CapabilityService, modules: ModuleService
    ) -> None:
        super().__init__(names.MANAGER_IFACE)
        self._hardware = hardware
        self._capability = capability
        self._modules = modules
        self._started_wall = time.time()
        self._started_mono = time.monotonic()
        self._summary: tuple[HardwareProfile, Variant] | None = None
        self._identity = to_vardict(AgentIdentity(__version__, os.getpid(), self._started_wall))
        hardware.subscribe(self._on_hardware_changed)

    @dbus_property(access=PropertyAccess.READ)
    def Version(self) -> DBusStr:
        return __version__

    @dbus_property(access=PropertyAccess.READ)
    def Hostname(self) -> DBusStr:
        return socket.gethostname()

    @dbus_method()
    @translate_errors
    async def GetHardware(self) -> DBusDict:
        return hardware_vardict(await self._hardware.profile())

    @dbus_method()
    @translate_errors_sync
    def GetStatus(self) -> DBusDict:
        # A plain def on purpose: the hottest read answers without a task. The agent
        # requests its name only after the first probe, so "hardware" is normally there.
        out = dict(self._identity)
        out.update(
            to_vardict(
                AgentClock(
                    uptime_seconds=round(time.monotonic() - self._started_mono, 3),
                    hostname=socket.gethostname(),
                )
            )
        )
        summary = self._hardware_summary()
        if summary is not None:
            out["hardware"] = summary
        return out

    def _hardware_summary(self) -> Variant | None:
        """The summary of the current profile, converted once per profile."""
        profile = self._hardware.current
        if profile is None:
            return None
        if self._summary is None or self._summary[0] is not profile:
            self._summary = (profile, Variant("a{sv}", to_vardict(summarize(profile))))
        return self._summary[1]

    @dbus_method()
    @translate_errors
    async def RefreshHardware(self) -> DBusBool:
        before = self._hardware.current
        after = await self._hardware.refresh()
        return before is not None and significant_change(before, after)

    @dbus_method()
    @translate_errors
    async def GetTier(self) -> DBusDict:
        profile = await self._hardware.profile()
        return to_vardict(await self._capability.capability(profile))

    @dbus_method()
    @translate_errors
    async def SetPolicyOverride(
        self,
        limits: DBusDict,
        allow_runtimes: DBusStrList,
        deny_runtimes: DBusStrList,
        reason: DBusStr,
    ) -> DBusStr:
        caller = current_caller()
        numbers: dict[str, float] = {}
        for key, variant in limits.items():
            if variant.signature not in ("d", "x", "t", "i", "u"):
                raise InvalidArgs(f"limit {key} must be a number, not type {variant.signature}")
            numbers[key] = float(variant.value)
        override = await self._capability.add_override(
            uid=caller.uid,
            user=caller.user,
            reason=reason,
            limits=numbers,
            allow=tuple(allow_runtimes),
            deny=tuple(deny_runtimes),
        )
        return override.id

    @dbus_method()
    @translate_errors
    async def RevertPolicyOverride(self, override_id: DBusStr, reason: DBusStr) -> None:
        caller = current_caller()
        await self._capability.revert_override(override_id, user=caller.user, reason=reason)

    @dbus_method()
    @translate_errors
    async def GetPolicyOverrides(self) -> DBusDictList:
        return [to_vardict(o) for o in await self._capability.overrides()]

    @dbus_method()
    @translate_errors
    async def ListModules(self) -> DBusDictList:
        """Every module in the catalog, with whether it can be installed here and why not."""
        profile = await self._hardware.profile()
        capability = await self._capability.capability(profile)
        return [to_vardict(m) for m in await self._modules.summaries(profile, capability)]

    @dbus_method()
    @translate_errors
    async def ValidateManifest(self, text: DBusStr, source: DBusStr) -> DBusDict:
        """Check a module manifest a person is writing; never changes anything."""
        return to_vardict(await asyncio.to_thread(check_manifest, text, source or "<manifest>"))

    @dbus_method()
    @translate_errors
    async def Reload(self) -> None:
        """Re-read policies and probe the hardware again."""
        self._capability.reload()
        self._modules.reload()
        profile = await self._hardware.refresh()
        await self._capability.capability(profile)  # report bad policy files now

    @dbus_signal()
    def HardwareChanged(self, hardware: DBusDict) -> DBusDict:
        return hardware

    def _on_hardware_changed(self, profile: HardwareProfile) -> None:
        self.HardwareChanged(hardware_vardict(profile))

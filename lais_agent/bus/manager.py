"""``org.localaistack.Agent1.Manager`` at ``/org/localaistack/Agent1``.

Thin: each member converts and calls one service. Authorization happened
before (see ``gate.py``); errors are translated by ``translate_errors``.
The ``a{sv}`` trees are documented key by key in docs/dbus-api.md.
"""

# No "from __future__ import annotations": dbus-fast reads these annotations at runtime.

import os
import re
import socket
import time
from typing import TYPE_CHECKING, Annotated

from dbus_fast import Variant
from dbus_fast.annotations import DBusBool, DBusDict, DBusObjectPath, DBusSignature, DBusStr
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from lais_agent import __version__, names
from lais_agent.bus.caller import current_caller
from lais_agent.bus.errors import translate_errors, translate_errors_sync
from lais_agent.bus.module import ModuleObjects
from lais_agent.bus.wire import to_vardict
from lais_agent.control.capability import CapabilityService
from lais_agent.control.hardware import HardwareService, significant_change
from lais_agent.control.modules import ModuleService
from lais_agent.control.status import AgentClock, AgentIdentity, summarize
from lais_agent.errors import InvalidArgs, NotFound
from lais_agent.hardware.profile import HardwareProfile

if TYPE_CHECKING:
    from lais_agent.catalog.planning import PlanOptions

DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusDictList = Annotated[list[dict[str, Variant]], DBusSignature("aa{sv}")]

MODULE_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,62}$")
MAX_REQUEST_TEXT = 200
# PlanInstall options: key -> D-Bus type (docs/dbus-api.md)
PLAN_OPTIONS = {"mode": "s"}


def plan_options(options: dict[str, Variant]) -> "PlanOptions":
    from lais_agent.catalog.planning import PlanOptions  # noqa: PLC0415 - pydantic: lazy

    for key, variant in options.items():
        want = PLAN_OPTIONS.get(key)
        if want is None:
            raise InvalidArgs(
                f"unknown plan option {key!r}; known options: {', '.join(sorted(PLAN_OPTIONS))}"
            )
        if variant.signature != want:
            raise InvalidArgs(f"plan option {key} must be of type {want}, not {variant.signature}")
    mode = options.get("mode")
    return PlanOptions(mode=str(mode.value) if mode is not None and mode.value else None)


def check_requests(requests: list[str]) -> list[str]:
    for text in requests:
        if len(text) > MAX_REQUEST_TEXT or any(ord(c) < 0x20 for c in text):
            raise InvalidArgs(
                f"{text[:60]!r} is not a module request (at most {MAX_REQUEST_TEXT} "
                "printable characters, like 'vllm' or 'aider>=0.80')"
            )
    return requests


def hardware_vardict(profile: HardwareProfile) -> dict[str, Variant]:
    return to_vardict(profile, total_vram_bytes=Variant("x", profile.total_vram_bytes))


class ManagerInterface(ServiceInterface):
    def __init__(
        self,
        hardware: HardwareService,
        capability: CapabilityService,
        modules: ModuleService,
        module_objects: ModuleObjects,
    ) -> None:
        super().__init__(names.MANAGER_IFACE)
        self._hardware = hardware
        self._capability = capability
        self._modules = modules
        self._module_objects = module_objects
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
        self._module_objects.refresh_later()  # installable modules may have changed
        return override.id

    @dbus_method()
    @translate_errors
    async def RevertPolicyOverride(self, override_id: DBusStr, reason: DBusStr) -> None:
        caller = current_caller()
        await self._capability.revert_override(override_id, user=caller.user, reason=reason)
        self._module_objects.refresh_later()

    @dbus_method()
    @translate_errors
    async def GetPolicyOverrides(self) -> DBusDictList:
        return [to_vardict(o) for o in await self._capability.overrides()]

    @dbus_method()
    @translate_errors
    async def ListModules(self) -> DBusDictList:
        """Every module in the catalog, with whether it can be installed here and why not."""
        return [to_vardict(m) for m in await self._module_objects.refresh()]

    @dbus_method()
    @translate_errors
    async def GetModule(self, name: DBusStr) -> DBusObjectPath:
        """The object path of one module (org.localaistack.Agent1.Module)."""
        if not MODULE_NAME.match(name):
            raise InvalidArgs(
                f"{name[:70]!r} is not a module name (lowercase letters, digits, '.', '+', '-')"
            )
        await self._module_objects.refresh()
        path = self._module_objects.path_of(name)
        if path is None:
            raise NotFound(
                f"no module named {name!r} in the catalog",
                hint="`laisctl module list` shows them all",
            )
        return path

    @dbus_method()
    @translate_errors
    async def PlanInstall(self, modules: DBusStrList, options: DBusDict) -> DBusDict:
        """What installing ``modules`` would take here: a dry run, nothing changes."""
        opts = plan_options(options)
        requests = check_requests(list(modules))
        profile = await self._hardware.profile()
        capability = await self._capability.capability(profile)
        return to_vardict(await self._modules.plan(profile, capability, requests, opts))

    @dbus_method()
    @translate_errors
    async def ValidateManifest(self, text: DBusStr, source: DBusStr) -> DBusDict:
        """Check a module manifest a person is writing; never changes anything."""
        return to_vardict(await self._modules.check(text, source or "<manifest>"))

    @dbus_method()
    @translate_errors
    async def Reload(self) -> None:
        """Re-read policies and probe the hardware again."""
        await self._capability.reload()
        await self._modules.reload()
        await self._hardware.refresh()
        await self._module_objects.refresh()  # reports bad policy and manifest files now

    @dbus_signal()
    def HardwareChanged(self, hardware: DBusDict) -> DBusDict:
        return hardware

    def _on_hardware_changed(self, profile: HardwareProfile) -> None:
        self.HardwareChanged(hardware_vardict(profile))
        self._module_objects.refresh_later()

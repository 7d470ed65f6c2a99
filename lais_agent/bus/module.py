"""``org.localaistack.Agent1.Module`` objects, one per catalog module, at
``/org/localaistack/Agent1/modules/<escaped name>``.

Read-only properties mirror the module's summary for this machine (installable,
why not, usable modes, state). ``ModuleObjects.refresh`` judges the catalog again
and exports new modules, updates changed ones (PropertiesChanged) and unexports
removed ones (ObjectManager's InterfacesAdded/InterfacesRemoved come from dbus-fast).

The objects appear the first time the catalog is needed (any module call, or
GetManagedObjects: the gate runs ``prepare`` first), not at start-up: an agent only
asked for its status never loads pydantic and the catalog (~17 MiB, docs/benchmarks.md).
"""

# No "from __future__ import annotations": dbus-fast reads these annotations at runtime.

import asyncio
import logging
from collections.abc import Sequence
from typing import Annotated, Any

from dbus_fast import Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusBool, DBusSignature, DBusStr
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property

from lais_agent import names
from lais_agent.bus.wire import to_vardict
from lais_agent.control.capability import CapabilityService
from lais_agent.control.hardware import HardwareService
from lais_agent.control.modules import ModuleService, ModuleSummary
from lais_agent.errors import LaisError

logger = logging.getLogger(__name__)

DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusDictList = Annotated[list[dict[str, Variant]], DBusSignature("aa{sv}")]


def _properties(s: ModuleSummary) -> dict[str, Any]:
    """Property name -> plain value, as the getters return them."""
    return {
        "Name": s.name,
        "Category": s.category,
        "Title": s.title,
        "Description": s.description,
        "Homepage": s.homepage,
        "License": s.license,
        "Provides": list(s.provides),
        "Consumes": list(s.consumes),
        "State": s.state,
        "SignedBy": s.signed_by or "",
        "Versions": list(s.versions),
        "Installable": s.installable,
        "BestVersion": s.best_version or "",
        "Modes": list(s.modes),
        "Reasons": list(s.reasons),
        "VersionDetails": [to_vardict(v) for v in s.version_details],
    }


class ModuleInterface(ServiceInterface):
    def __init__(self, summary: ModuleSummary) -> None:
        super().__init__(names.MODULE_IFACE)
        self._values = _properties(summary)

    def update(self, summary: ModuleSummary) -> None:
        new = _properties(summary)
        changed = {k: v for k, v in new.items() if v != self._values[k]}
        self._values = new
        if changed:
            self.emit_properties_changed(changed)

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return str(self._values["Name"])

    @dbus_property(access=PropertyAccess.READ)
    def Category(self) -> DBusStr:
        return str(self._values["Category"])

    @dbus_property(access=PropertyAccess.READ)
    def Title(self) -> DBusStr:
        return str(self._values["Title"])

    @dbus_property(access=PropertyAccess.READ)
    def Description(self) -> DBusStr:
        return str(self._values["Description"])

    @dbus_property(access=PropertyAccess.READ)
    def Homepage(self) -> DBusStr:
        return str(self._values["Homepage"])

    @dbus_property(access=PropertyAccess.READ)
    def License(self) -> DBusStr:
        return str(self._values["License"])

    @dbus_property(access=PropertyAccess.READ)
    def Provides(self) -> DBusStrList:
        return list(self._values["Provides"])

    @dbus_property(access=PropertyAccess.READ)
    def Consumes(self) -> DBusStrList:
        return list(self._values["Consumes"])

    @dbus_property(access=PropertyAccess.READ)
    def State(self) -> DBusStr:
        return str(self._values["State"])

    @dbus_property(access=PropertyAccess.READ)
    def SignedBy(self) -> DBusStr:
        return str(self._values["SignedBy"])

    @dbus_property(access=PropertyAccess.READ)
    def Versions(self) -> DBusStrList:
        return list(self._values["Versions"])

    @dbus_property(access=PropertyAccess.READ)
    def Installable(self) -> DBusBool:
        return bool(self._values["Installable"])

    @dbus_property(access=PropertyAccess.READ)
    def BestVersion(self) -> DBusStr:
        return str(self._values["BestVersion"])

    @dbus_property(access=PropertyAccess.READ)
    def Modes(self) -> DBusStrList:
        return list(self._values["Modes"])

    @dbus_property(access=PropertyAccess.READ)
    def Reasons(self) -> DBusStrList:
        return list(self._values["Reasons"])

    @dbus_property(access=PropertyAccess.READ)
    def VersionDetails(self) -> DBusDictList:
        return list(self._values["VersionDetails"])


class ModuleObjects:
    """The exported Module objects, kept in step with what the catalog, the policy and
    the hardware say now."""

    def __init__(
        self,
        bus: MessageBus,
        hardware: HardwareService,
        capability: CapabilityService,
        modules: ModuleService,
    ) -> None:
        self._bus = bus
        self._hardware = hardware
        self._capability = capability
        self._modules = modules
        self._objects: dict[str, ModuleInterface] = {}
        self._loaded = False
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def path_of(self, name: str) -> str | None:
        return names.module_path(name) if name in self._objects else None

    async def refresh(self) -> list[ModuleSummary]:
        """Judge every module again; the objects follow. Raises InvalidConfig for bad files."""
        async with self._lock:
            profile = await self._hardware.profile()
            capability = await self._capability.capability(profile)
            summaries = await self._modules.summaries(profile, capability)
            self.sync(summaries)
            self._loaded = True
            return summaries

    # the gate's Preparation for ObjectManager.GetManagedObjects
    def needed(self) -> bool:
        return not self._loaded

    async def prepare(self) -> None:
        try:
            await self.refresh()
        except LaisError as exc:  # answered without modules; ListModules says what is wrong
            logger.warning("GetManagedObjects without Module objects: %s", exc)

    def refresh_later(self) -> None:
        """After a change (hardware, override): refresh without keeping a caller waiting.
        Nothing to do while no object has been asked for."""
        if not self._loaded:
            return
        task = asyncio.get_running_loop().create_task(self._refresh_quietly())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except LaisError as exc:  # a broken policy or catalog file: the next caller hears it
            logger.warning("cannot update the module objects: %s", exc)
        except Exception:
            logger.exception("cannot update the module objects")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def sync(self, summaries: Sequence[ModuleSummary]) -> None:
        current = {s.name: s for s in summaries}
        for name in sorted(set(self._objects) - set(current)):
            self._bus.unexport(names.module_path(name), self._objects.pop(name))
        for name, summary in current.items():
            existing = self._objects.get(name)
            if existing is None:
                obj = ModuleInterface(summary)
                self._objects[name] = obj
                self._bus.export(names.module_path(name), obj)
            else:
                existing.update(summary)

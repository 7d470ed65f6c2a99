"""Every callable D-Bus member and the one polkit action that guards it.

A member missing from this table is refused by the gate; a test checks that
every exported method is listed. Introspection and Peer are public, as on
every system service.
"""

from __future__ import annotations

from typing import Final

from lais_agent import names

PROPERTIES_IFACE: Final = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER_IFACE: Final = "org.freedesktop.DBus.ObjectManager"
PUBLIC_IFACES: Final = frozenset(
    {"org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Peer"}
)

METHOD_ACTIONS: Final[dict[tuple[str, str], str]] = {
    (names.MANAGER_IFACE, "GetHardware"): names.ACTION_READ,
    (names.MANAGER_IFACE, "GetStatus"): names.ACTION_READ,
    (names.MANAGER_IFACE, "RefreshHardware"): names.ACTION_READ,
    (names.MANAGER_IFACE, "GetTier"): names.ACTION_READ,
    (names.MANAGER_IFACE, "GetPolicyOverrides"): names.ACTION_READ,
    (names.MANAGER_IFACE, "ValidateManifest"): names.ACTION_READ,
    (names.MANAGER_IFACE, "ListModules"): names.ACTION_READ,
    (names.MANAGER_IFACE, "GetModule"): names.ACTION_READ,
    # A dry run: it reads the catalog and this machine, and changes nothing.
    (names.MANAGER_IFACE, "PlanInstall"): names.ACTION_READ,
    (names.MANAGER_IFACE, "SetPolicyOverride"): names.ACTION_POLICY_OVERRIDE,
    (names.MANAGER_IFACE, "RevertPolicyOverride"): names.ACTION_POLICY_OVERRIDE,
    # Reload re-reads configuration, catalog and policies: a change to what may be managed.
    (names.MANAGER_IFACE, "Reload"): names.ACTION_MODULE_MANAGE,
    (PROPERTIES_IFACE, "Get"): names.ACTION_READ,
    (PROPERTIES_IFACE, "GetAll"): names.ACTION_READ,
    # Set has no writable property to act on yet; reading is all it can reveal.
    (PROPERTIES_IFACE, "Set"): names.ACTION_READ,
    (OBJECT_MANAGER_IFACE, "GetManagedObjects"): names.ACTION_READ,
}


def action_for(interface: str | None, member: str | None) -> str | None:
    if interface is None or member is None:
        return None
    return METHOD_ACTIONS.get((interface, member))

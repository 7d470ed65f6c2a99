"""A blocking D-Bus client for laisctl, on libdbus (Debian's python3-dbus).

Why not dbus-fast here: ``import dbus_fast`` pulls in asyncio and costs about
100 ms, more than laisctl's whole start-up budget. libdbus does the protocol in
C. We use dbus-python's C core, ``_dbus_bindings``, directly: it imports in about
3 ms, where the ``dbus`` package around it costs about 39 ms (logging, proxies,
introspection parsing) that a one-call client never uses. The package is loaded
only on the error path, where ``_dbus_bindings`` raises dbus.exceptions'
DBusException. tests/unit/test_cli_startup.py pins both facts.

Every D-Bus failure becomes a LaisError saying what happened and what to do.
"""

from __future__ import annotations

from typing import Any

import _dbus_bindings

from lais_agent import names
from lais_agent.errors import (
    Failed,
    LaisError,
    NotAuthorized,
    TimedOut,
    Unavailable,
    from_dbus_name,
)


class _Connection(_dbus_bindings.Connection):  # type: ignore[misc]
    """A Python subclass, as dbus.bus.BusConnection is: dbus-python 1.4 (Debian 13)
    crashes when the C base type itself is instantiated (tests/system catches it)."""


CALL_TIMEOUT_S = 120.0
# A call that may show a password prompt waits longer than the agent waits for polkit
# (lais_agent.bus.polkit.INTERACTIVE_TIMEOUT_S = 300 s), so the agent's answer arrives.
INTERACTIVE_CALL_TIMEOUT_S = 330.0
_JOURNAL_HINT = "see `systemctl status lais-agent` and `journalctl -u lais-agent`"


def to_native(value: Any) -> Any:
    """dbus-python values -> plain JSON-able Python values."""
    if isinstance(value, _dbus_bindings.Boolean):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): to_native(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_native(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    return value


def translate(exc: Any, where: str) -> LaisError:
    """A dbus.exceptions.DBusException (duck-typed: its module is loaded lazily)."""
    name = exc.get_dbus_name() or ""
    text = exc.get_dbus_message() or str(exc)
    if name.startswith(names.ERROR_PREFIX + "."):
        error = from_dbus_name(name, text)
        if isinstance(error, NotAuthorized):
            error.hint = (
                "ask an administrator to add you to the 'lais' group "
                "(`sudo adduser $USER lais`), or run the command with sudo"
            )
        elif error.hint is None and error.code == "failed":
            error.hint = _JOURNAL_HINT
        return error
    if name == "org.freedesktop.DBus.Error.ServiceUnknown":
        return Unavailable(
            "the LocalAIStack agent is not running and D-Bus cannot start it",
            hint="is the localaistack package installed? Start the agent with "
            "`sudo systemctl start lais-agent`, then " + _JOURNAL_HINT,
        )
    if name.startswith("org.freedesktop.DBus.Error.Spawn."):
        return Unavailable(f"D-Bus could not start the agent: {text}", hint=_JOURNAL_HINT)
    if name in ("org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.Timeout"):
        return TimedOut(f"the agent did not answer {where} in time", hint=_JOURNAL_HINT)
    if name == "org.freedesktop.DBus.Error.AccessDenied":
        return NotAuthorized(
            f"the system bus refused {where}: {text}",
            hint="the D-Bus policy org.localaistack.Agent1.conf may be missing; "
            "reinstall the localaistack package",
        )
    if name in (
        "org.freedesktop.DBus.Error.UnknownMethod",
        "org.freedesktop.DBus.Error.UnknownObject",
        "org.freedesktop.DBus.Error.UnknownInterface",
        "org.freedesktop.DBus.Error.UnknownProperty",
    ):
        return Failed(
            f"the agent does not know {where}: {text}",
            hint="laisctl and lais-agent versions differ; restart the agent after an upgrade",
        )
    return Failed(f"{where} failed: {name}: {text}", hint=_JOURNAL_HINT)


class AgentClient:
    def __init__(self, address: str | None = None, *, interactive: bool = False) -> None:
        self._interactive = interactive
        where = address or "the system bus"
        try:
            self._bus = _Connection._new_for_bus(address or _dbus_bindings.BUS_SYSTEM)
        except Exception as exc:
            if not hasattr(exc, "get_dbus_name"):
                raise
            raise Unavailable(
                f"cannot connect to {where}: {exc.get_dbus_message() or exc}",  # type: ignore[attr-defined]
                hint="is dbus running (`systemctl status dbus`)? With --bus, check the address",
            ) from None

    def call(
        self, interface: str, member: str, signature: str = "", *args: Any, path: str = ""
    ) -> Any:
        message = _dbus_bindings.MethodCallMessage(
            names.BUS_NAME, path or names.ROOT_PATH, interface, member
        )
        if signature:
            message.append(*args, signature=signature)
        message.set_allow_interactive_authorization(self._interactive)
        try:
            timeout = INTERACTIVE_CALL_TIMEOUT_S if self._interactive else CALL_TIMEOUT_S
            reply = self._bus.send_message_with_reply_and_block(message, timeout)
        except Exception as exc:
            if not hasattr(exc, "get_dbus_name"):
                raise
            raise translate(exc, f"{member}()") from None
        body = reply.get_args_list()
        if not body:
            return None
        return to_native(body[0] if len(body) == 1 else body)

    def manager(self, member: str, signature: str = "", *args: Any) -> Any:
        return self.call(names.MANAGER_IFACE, member, signature, *args)

    def get_property(self, interface: str, name: str) -> Any:
        return self.call("org.freedesktop.DBus.Properties", "Get", "ss", interface, name)

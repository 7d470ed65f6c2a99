"""Asking polkit (and the bus) about callers.

``Authority.check`` answers one question: may this bus name perform this
action? Root passes without asking, exactly as systemd and firewalld do. When
polkitd is not on the bus only root passes, and the agent logs why.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

logger = logging.getLogger(__name__)

POLKIT_NAME = "org.freedesktop.PolicyKit1"
POLKIT_PATH = "/org/freedesktop/PolicyKit1/Authority"
POLKIT_IFACE = "org.freedesktop.PolicyKit1.Authority"
CHECK_ALLOW_USER_INTERACTION = 0x1
# How long a password dialog may stay open, and how long a plain check may take.
INTERACTIVE_TIMEOUT_S = 300.0
CHECK_TIMEOUT_S = 25.0
_UNAVAILABLE_ERRORS = frozenset(
    {
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
    }
)


class Verdict(Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    CHALLENGE = "challenge"  # allowed after authentication, if the caller allows interaction
    UNAVAILABLE = "unavailable"  # polkit could not be asked


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED


class Authority:
    def __init__(self, bus: MessageBus, *, uid_cache_size: int = 512) -> None:
        self._bus = bus
        self._uids: OrderedDict[str, int] = OrderedDict()
        self._uid_cache_size = uid_cache_size
        self._polkit_missing_logged = False

    def cached_uid(self, sender: str) -> int | None:
        """The caller's uid if it is known already (no bus round trip)."""
        return self._uids.get(sender)

    async def caller_uid(self, sender: str) -> int | None:
        """The caller's uid (cached: unique names are never reused on a bus)."""
        uid = self._uids.get(sender)
        if uid is not None:
            self._uids.move_to_end(sender)
            return uid
        reply = await self._bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="GetConnectionUnixUser",
                signature="s",
                body=[sender],
            )
        )
        if reply.message_type is not MessageType.METHOD_RETURN:
            return None  # the caller has gone away
        uid = int(reply.body[0])
        self._uids[sender] = uid
        if len(self._uids) > self._uid_cache_size:
            self._uids.popitem(last=False)
        return uid

    def forget(self, sender: str) -> None:
        self._uids.pop(sender, None)

    async def check(self, sender: str, action: str, *, interactive: bool) -> Decision:
        uid = await self.caller_uid(sender)
        if uid is None:
            return Decision(Verdict.DENIED, "the caller has disconnected")
        if uid == 0:
            return Decision(Verdict.ALLOWED, "caller is root")
        return await self._ask_polkit(sender, action, interactive=interactive)

    async def _ask_polkit(self, sender: str, action: str, *, interactive: bool) -> Decision:
        message = Message(
            destination=POLKIT_NAME,
            path=POLKIT_PATH,
            interface=POLKIT_IFACE,
            member="CheckAuthorization",
            signature="(sa{sv})sa{ss}us",
            body=[
                ["system-bus-name", {"name": Variant("s", sender)}],
                action,
                {},
                CHECK_ALLOW_USER_INTERACTION if interactive else 0,
                "",
            ],
        )
        timeout = INTERACTIVE_TIMEOUT_S if interactive else CHECK_TIMEOUT_S
        try:
            reply = await asyncio.wait_for(self._bus.call(message), timeout)
        except asyncio.TimeoutError:
            logger.warning("polkit did not answer within %.0f s for %s", timeout, action)
            return Decision(Verdict.UNAVAILABLE, f"polkit did not answer within {timeout:.0f} s")
        if reply.message_type is MessageType.ERROR:
            if reply.error_name in _UNAVAILABLE_ERRORS:
                if not self._polkit_missing_logged:
                    logger.warning(
                        "polkitd is not on the bus (%s): only root may call the agent",
                        reply.error_name,
                    )
                    self._polkit_missing_logged = True
                return Decision(Verdict.UNAVAILABLE, "polkit is not running; only root may call")
            logger.warning("polkit refused the check for %s: %s", action, reply.error_name)
            return Decision(Verdict.UNAVAILABLE, f"polkit error {reply.error_name}")
        self._polkit_missing_logged = False
        is_authorized, is_challenge, _details = reply.body[0]
        if is_authorized:
            return Decision(Verdict.ALLOWED, "polkit allowed")
        if is_challenge:
            return Decision(Verdict.CHALLENGE, "authentication is required")
        return Decision(Verdict.DENIED, "polkit denied")

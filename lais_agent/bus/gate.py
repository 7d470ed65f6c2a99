"""The authorization gate: one pre-dispatch handler in front of every object.

dbus-fast's service methods cannot see their caller, so the gate sees each
method call first. It looks the member up in ``actions.METHOD_ACTIONS``,
refuses unknown members, asks the ``Authority`` about the sender (interactive
only when the message carries ALLOW_INTERACTIVE_AUTHORIZATION) and, once
allowed, hands the very same message back to dbus-fast's normal dispatch.

A member may also have a preparation: work that must be done before dbus-fast
answers it and that only the agent knows about (dbus-fast answers
ObjectManager.GetManagedObjects itself; the Module objects are exported the first
time the catalog is needed, so that call loads it first).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from dbus_fast import Message, MessageFlag, MessageType
from dbus_fast.aio import MessageBus

from lais_agent import names
from lais_agent.bus import actions
from lais_agent.bus.caller import CURRENT_CALLER, Caller
from lais_agent.bus.errors import INTERNAL_ERROR_TEXT
from lais_agent.bus.polkit import Authority, Decision, Verdict
from lais_agent.errors import Failed, NotAuthorized

logger = logging.getLogger(__name__)

ALLOW_INTERACTIVE = MessageFlag.ALLOW_INTERACTIVE_AUTHORIZATION


class Preparation(Protocol):
    def needed(self) -> bool: ...

    async def prepare(self) -> None: ...


def _denial_text(action: str, decision: Decision, *, interactive: bool) -> str:
    if decision.verdict is Verdict.CHALLENGE and not interactive:
        return f"not authorized for {action}: authentication is required"
    return f"not authorized for {action}: {decision.reason}"


class AuthorizationGate:
    def __init__(self, bus: MessageBus, authority: Authority) -> None:
        self._bus = bus
        self._authority = authority
        self._approved: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._preparations: dict[tuple[str, str], Preparation] = {}

    def install(self) -> None:
        self._bus.add_message_handler(self.handle)

    def prepare_before(self, interface: str, member: str, preparation: Preparation) -> None:
        """Run ``preparation`` (when it says it is needed) before dispatching the member."""
        self._preparations[(interface, member)] = preparation

    @staticmethod
    def _ours(path: str | None) -> bool:
        """Our objects, and the paths above them: dbus-fast answers ObjectManager and
        Properties calls on "/" or "/org" with our objects too."""
        if path is None:
            return False
        return (
            path == names.ROOT_PATH
            or path.startswith(names.ROOT_PATH + "/")
            or path == "/"
            or names.ROOT_PATH.startswith(path + "/")
        )

    def handle(self, msg: Message) -> Message | bool | None:
        """dbus-fast message handler: True = the gate took the call over."""
        if msg.message_type is not MessageType.METHOD_CALL or not self._ours(msg.path):
            return None
        if id(msg) in self._approved:  # re-dispatched after approval
            self._approved.discard(id(msg))
            return None
        if msg.interface in actions.PUBLIC_IFACES:
            return None
        action = actions.action_for(msg.interface, msg.member)
        if action is None:
            logger.info(
                "refused %s.%s from %s: not in the action table",
                msg.interface,
                msg.member,
                msg.sender,
            )
            return Message.new_error(
                msg,
                NotAuthorized.dbus_name(),
                f"{msg.interface}.{msg.member} is not a method of this service "
                "(calls must name one of its interfaces)",
            )
        preparation = self._preparations.get((msg.interface or "", msg.member or ""))
        if preparation is not None and not preparation.needed():
            preparation = None
        if (
            action == names.ACTION_READ
            and preparation is None
            and self._authority.cached_uid(msg.sender) == 0
        ):
            # root reading, already identified: dispatch directly, no task, no polkit
            # (changes always take the path below, which records the caller)
            return None
        task = asyncio.get_running_loop().create_task(self._authorize(msg, action, preparation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _authorize(
        self, msg: Message, action: str, preparation: Preparation | None = None
    ) -> None:
        interactive = bool(msg.flags & ALLOW_INTERACTIVE)
        try:
            decision = await self._authority.check(msg.sender, action, interactive=interactive)
        except Exception:
            logger.exception("authorization check for %s failed", action)
            self._reply(Message.new_error(msg, Failed.dbus_name(), INTERNAL_ERROR_TEXT), msg)
            return
        if not decision.allowed:
            logger.info(
                "denied %s.%s (%s) to %s: %s",
                msg.interface,
                msg.member,
                action,
                msg.sender,
                decision.reason,
            )
            text = _denial_text(action, decision, interactive=interactive)
            self._reply(Message.new_error(msg, NotAuthorized.dbus_name(), text), msg)
            return
        if preparation is not None:
            try:
                await preparation.prepare()
            except Exception:  # the call is still answered, with what there is
                logger.warning("preparing %s.%s failed", msg.interface, msg.member, exc_info=True)
        uid = self._authority.cached_uid(msg.sender)
        token = CURRENT_CALLER.set(Caller(msg.sender, uid if uid is not None else -1))
        self._approved.add(id(msg))
        try:
            # dbus-fast has no public "dispatch this message" call; _process_message is
            # cpdef (public to Python) and re-runs the handlers, which now let it pass.
            self._bus._process_message(msg)
        finally:
            self._approved.discard(id(msg))
            CURRENT_CALLER.reset(token)

    def _reply(self, reply: Message, msg: Message) -> None:
        if msg.flags & MessageFlag.NO_REPLY_EXPECTED or not self._bus.connected:
            return
        self._bus.send(reply)

    async def drain(self) -> None:
        """Wait for authorization checks in flight (used on shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

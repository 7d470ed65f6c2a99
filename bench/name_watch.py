"""Watching the bus name: a client connected before any spawn that hears owner changes."""

from __future__ import annotations

import asyncio
import subprocess
import time

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from bench.client import close, connect
from bench.errors import BenchError
from lais_agent import names


class NameWatch:
    """A connection made before any spawn that hears every owner change of the name."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.bus: MessageBus | None = None
        self._events: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

    async def open(self) -> NameWatch:
        self.bus = await connect(self.address)
        self.bus.add_message_handler(self._on_message)
        rule = (
            "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
            f"member='NameOwnerChanged',arg0='{names.BUS_NAME}'"
        )
        reply = await self.bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[rule],
            )
        )
        if reply.message_type is not MessageType.METHOD_RETURN:
            raise BenchError(f"AddMatch failed: {reply.body}")
        return self

    def _on_message(self, msg: Message) -> None:
        if (
            msg.message_type is MessageType.SIGNAL
            and msg.member == "NameOwnerChanged"
            and msg.body
            and msg.body[0] == names.BUS_NAME
        ):
            self._events.put_nowait((time.perf_counter(), str(msg.body[2])))

    def drain(self) -> None:
        while not self._events.empty():
            self._events.get_nowait()

    async def next_change(
        self, proc: subprocess.Popen[bytes], *, acquired: bool, timeout: float = 30
    ) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                when, owner = await asyncio.wait_for(self._events.get(), 0.1)
            except asyncio.TimeoutError:
                if acquired and proc.poll() is not None:
                    raise BenchError(f"server exited with {proc.returncode}") from None
                continue
            if bool(owner) == acquired:
                return when, owner
        raise BenchError(f"timed out waiting for {names.BUS_NAME} to be {acquired=}")

    async def owner_pid(self, owner: str) -> int:
        assert self.bus is not None
        reply = await self.bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="GetConnectionUnixProcessID",
                signature="s",
                body=[owner],
            )
        )
        return int(reply.body[0]) if reply.message_type is MessageType.METHOD_RETURN else -1

    async def close(self) -> None:
        if self.bus is not None:
            await close(self.bus)

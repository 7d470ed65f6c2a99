"""The calling side: a dbus-fast asyncio client sending raw ``GetStatus`` Messages."""

from __future__ import annotations

import asyncio
import contextlib
import time

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from bench.errors import BenchError
from lais_agent import names


def status_message() -> Message:
    return Message(
        destination=names.BUS_NAME,
        path=names.ROOT_PATH,
        interface=names.MANAGER_IFACE,
        member="GetStatus",
    )


def list_modules_message() -> Message:
    return Message(
        destination=names.BUS_NAME,
        path=names.ROOT_PATH,
        interface=names.MANAGER_IFACE,
        member="ListModules",
    )


def check_reply(reply: Message) -> Message:
    if reply.message_type is not MessageType.METHOD_RETURN:
        raise BenchError(f"{reply.member or 'call'} failed: {reply.error_name}: {reply.body}")
    return reply


async def connect(address: str) -> MessageBus:
    return await MessageBus(bus_address=address).connect()


async def close(bus: MessageBus) -> None:
    if bus.connected:
        bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.wait_for_disconnect(), 5)  # type: ignore[no-untyped-call]


async def burst(bus: MessageBus, total: int, inflight: int) -> float:
    """Exactly ``total`` calls with ``inflight`` outstanding; returns the elapsed seconds."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            check_reply(await bus.call(status_message()))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    return time.perf_counter() - start

"""translate_errors on a real bus: LaisErrors keep their text, bugs leak nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from dbus_fast import DBusError, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusStr
from dbus_fast.service import ServiceInterface, dbus_method

from lais_agent.bus.errors import translate_errors, translate_errors_sync
from lais_agent.errors import Busy, Failed, from_dbus_name
from tests.bus.harness import PrivateBus, _spawn, wait_for
from tests.conftest import run_async

pytestmark = pytest.mark.bus

SECRET = "/srv/secret/path"


class Faulty(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.localaistack.Test1")

    @dbus_method()
    @translate_errors
    async def Bug(self) -> DBusStr:
        raise RuntimeError(f"cannot open {SECRET}")

    @dbus_method()
    @translate_errors_sync
    def SyncBug(self) -> DBusStr:
        raise KeyError(SECRET)

    @dbus_method()
    @translate_errors
    async def Refuse(self) -> DBusStr:
        raise Busy("another job holds the model store", hint="wait for job 3")


async def _call(address: str, member: str) -> Message:
    server = await MessageBus(bus_address=address).connect()
    client = await MessageBus(bus_address=address).connect()
    try:
        server.export("/test", Faulty())
        return await client.call(
            Message(
                destination=server.unique_name,
                path="/test",
                interface="org.localaistack.Test1",
                member=member,
            )
        )
    finally:
        client.disconnect()
        server.disconnect()
        await client.wait_for_disconnect()
        await server.wait_for_disconnect()


@pytest.fixture(scope="module")
def session_bus() -> Iterator[PrivateBus]:
    """A session-type bus: peers may call each other's unique names."""
    bus = PrivateBus()
    bus.directory.chmod(0o755)
    bus.proc = _spawn(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={bus.address}"],
        stderr=subprocess.DEVNULL,
    )
    wait_for(bus.socket.exists, what="session bus socket")
    yield bus
    bus.stop()


@pytest.mark.parametrize("member", ["Bug", "SyncBug"])
def test_unexpected_exception_becomes_failed_without_details(
    session_bus: PrivateBus, member: str
) -> None:
    reply = run_async(_call(session_bus.address, member))
    assert reply.message_type is MessageType.ERROR
    assert reply.error_name == Failed.dbus_name()
    text = reply.body[0]
    assert SECRET not in text
    assert "RuntimeError" not in text
    assert "Traceback" not in text
    assert "journalctl" in text


def test_lais_error_keeps_message_and_hint(session_bus: PrivateBus) -> None:
    reply = run_async(_call(session_bus.address, "Refuse"))
    assert reply.error_name == Busy.dbus_name()
    assert reply.body[0] == "another job holds the model store\nhint: wait for job 3"
    assert isinstance(DBusError._from_message(reply), DBusError)
    again = from_dbus_name(reply.error_name, reply.body[0])  # what laisctl does with it
    assert (type(again), again.message, again.hint) == (
        Busy,
        "another job holds the model store",
        "wait for job 3",
    )

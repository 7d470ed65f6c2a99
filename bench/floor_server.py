"""The floor for bench/run.py: a bare dbus-fast service with nothing in front of it.

It owns the agent's bus name on its own private bus, exports the agent's Manager
interface at the agent's path and answers ``GetStatus`` with a prebuilt ``a{sv}``
of the same shape as the real agent's reply (captured once from the agent by
bench/startup.py and passed in as JSON). No authorization gate, no async method, no
dataclass conversion: whatever the agent costs above this is the agent's own.

    python bench/floor_server.py --bus ADDRESS --payload status.json
"""

# No "from __future__ import annotations": dbus-fast reads the annotations at runtime.

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from dbus_fast import BusType, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusDict
from dbus_fast.constants import NameFlag
from dbus_fast.service import ServiceInterface, dbus_method

BUS_NAME = "org.localaistack.Agent1"
ROOT_PATH = "/org/localaistack/Agent1"
MANAGER_IFACE = "org.localaistack.Agent1.Manager"


def variant_from_json(node: list[Any]) -> Variant:
    """``["s", "x"]`` -> Variant("s", "x"); ``["a{sv}", {...}]`` -> nested a{sv}."""
    signature, value = node
    if signature == "a{sv}":
        return Variant("a{sv}", vardict_from_json(value))
    return Variant(signature, value)


def vardict_from_json(tree: dict[str, list[Any]]) -> dict[str, Variant]:
    return {key: variant_from_json(node) for key, node in tree.items()}


class FloorManager(ServiceInterface):
    def __init__(self, payload: dict[str, Variant]) -> None:
        super().__init__(MANAGER_IFACE)
        self._payload = payload

    @dbus_method()
    def GetStatus(self) -> DBusDict:
        return self._payload


async def serve(address: str, payload: dict[str, Variant]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bus = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
    bus.export(ROOT_PATH, FloorManager(payload))
    reply = await bus.request_name(BUS_NAME, NameFlag.DO_NOT_QUEUE)
    if reply is not RequestNameReply.PRIMARY_OWNER:
        print(f"floor_server: could not own {BUS_NAME}: {reply}", file=sys.stderr)
        bus.disconnect()
        return 1
    await stop.wait()
    bus.disconnect()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bus", required=True, metavar="ADDRESS")
    parser.add_argument("--payload", required=True, type=Path, metavar="JSON")
    args = parser.parse_args()
    payload = vardict_from_json(json.loads(args.payload.read_text()))
    sys.exit(asyncio.run(serve(args.bus, payload)))


if __name__ == "__main__":
    main()

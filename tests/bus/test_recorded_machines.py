"""laisctl against agents that probe recorded machines, and hot-plug signalling."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from lais_agent import names
from tests.bus.harness import Agent, PolkitMock, PrivateBus, laisctl
from tests.conftest import run_async
from tests.unit.hardware.test_detect_fixtures import FIXTURES, NAMES, _golden_view, probe
from tests.unit.policy.test_engine import EXPECTED_TIERS

pytestmark = pytest.mark.bus


@pytest.mark.parametrize("name", NAMES)
def test_laisctl_hardware_json_shows_the_recorded_machine(
    bus: PrivateBus, polkit: PolkitMock, name: str
) -> None:
    agent = Agent(bus, hardware_root=FIXTURES / name).start()
    try:
        result = laisctl(bus, "hardware", "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        expected = _golden_view(probe(name))
        for key in ("cpu", "os", "nvidia"):
            assert data.get(key) == _without_nones(expected[key]), key
        assert [g["name"] for g in data["gpus"]] == [g["name"] for g in expected["gpus"]]  # type: ignore[index]
        assert len(data["issues"]) == len(expected["issues"])  # type: ignore[arg-type]
        human = laisctl(bus, "hardware")
        assert human.returncode == 0, human.stderr
        status = laisctl(bus, "status")
        assert status.returncode == 0, status.stderr
        tier = laisctl(bus, "tier", "--json")
        assert tier.returncode == 0, tier.stderr
        assert json.loads(tier.stdout)["tier"] == EXPECTED_TIERS[name]
        explained = laisctl(bus, "tier", "--explain")
        assert explained.returncode == 0, explained.stderr
        golden = (FIXTURES / name / "expected-tier.txt").read_text()
        assert explained.stdout == golden  # the agent says what the pure engine says
    finally:
        assert agent.stop() == 0, agent.logs()


def _without_nones(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


async def _refresh_and_catch_signal(address: str) -> tuple[bool, dict[str, object]]:
    client = await MessageBus(bus_address=address).connect()
    caught: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    def handler(msg: Message) -> None:
        if msg.member == "HardwareChanged" and not caught.done():
            caught.set_result(msg)

    client.add_message_handler(handler)
    try:
        await client.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[f"type='signal',interface='{names.MANAGER_IFACE}',member='HardwareChanged'"],
            )
        )
        reply = await client.call(
            Message(
                destination=names.BUS_NAME,
                path=names.ROOT_PATH,
                interface=names.MANAGER_IFACE,
                member="RefreshHardware",
            )
        )
        assert reply.message_type is MessageType.METHOD_RETURN, reply.body
        signal = await asyncio.wait_for(caught, 10)
        return bool(reply.body[0]), signal.body[0]
    finally:
        client.disconnect()
        await client.wait_for_disconnect()


def test_new_gpu_emits_hardware_changed(
    bus: PrivateBus, polkit: PolkitMock, tmp_path: Path
) -> None:
    root = tmp_path / "machine"
    shutil.copytree(FIXTURES / "laptop-cpu-only", root, symlinks=True)
    agent = Agent(bus, hardware_root=root).start()
    try:
        assert laisctl(bus, "status").returncode == 0  # first probe done
        shutil.copytree(
            FIXTURES / "rx7900xtx/sys/bus/pci/devices/0000:03:00.0",
            root / "sys/bus/pci/devices/0000:03:00.0",
            symlinks=True,
        )
        shutil.copytree(
            FIXTURES / "rx7900xtx/sys/bus/pci/drivers/amdgpu", root / "sys/bus/pci/drivers/amdgpu"
        )
        changed, hardware = run_async(_refresh_and_catch_signal(bus.address))
        assert changed is True
        gpus = hardware["gpus"].value  # type: ignore[attr-defined]
        assert sorted(g["vendor"].value for g in gpus) == ["amd", "intel"]
        result = json.loads(laisctl(bus, "hardware", "--json").stdout)
        assert len(result["gpus"]) == 2
    finally:
        assert agent.stop() == 0, agent.logs()

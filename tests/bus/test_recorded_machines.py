"""laisctl against agents that probe recorded machines, and hot-plug signalling."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from lais_agent import names
from lais_agent.errors import EXIT_USAGE
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
        _modules_and_vllm_plan(bus, name)
    finally:
        assert agent.stop() == 0, agent.logs()


# What `laisctl module plan vllm` must say on each recorded machine.
VLLM_PLANS: dict[str, list[tuple[str, str, str]] | str] = {
    "a100x2-nvlink": [("python", "3.11", "apt"), ("vllm", "0.7.2", "venv")],
    "rtx4090": [("python", "3.10", "apt"), ("vllm", "0.7.2", "venv")],
    "laptop-cpu-only": "0.7.2: needs capability tier rank >= 2; this machine is tier0-cpu",
    "arc-a770": "0.7.2: needs capability tier rank >= 2; this machine is tier0-cpu",
    "nvidia-no-driver": "0.7.2: needs capability tier rank >= 2; this machine is tier0-cpu",
    "rx7900xtx": "0.7.2: needs a GPU from nvidia",
}


def _modules_and_vllm_plan(bus: PrivateBus, name: str) -> None:
    installable = laisctl(bus, "module", "list", "--installable")
    assert installable.returncode == 0, installable.stderr
    golden = FIXTURES / name / "expected-installable.txt"
    if os.environ.get("LAIS_UPDATE_GOLDEN"):
        golden.write_text(installable.stdout)
    assert installable.stdout == golden.read_text()

    expected = VLLM_PLANS[name]
    plan = laisctl(bus, "module", "plan", "vllm", "--json")
    if isinstance(expected, str):
        assert plan.returncode == EXIT_USAGE, plan.stderr
        assert "no version of vllm can be installed here (0.7.2: " in plan.stderr
        assert expected in plan.stderr
        return
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert [(s["module"], s["version"], s["mode"]) for s in data["steps"]] == expected
    assert data["tier"] == EXPECTED_TIERS[name]
    vllm = data["steps"][-1]
    assert vllm["requested_by"] == ["you"]
    assert "not container: the image digest is unknown, it cannot be pinned" in vllm["explanation"]
    human = laisctl(bus, "module", "plan", "vllm")
    assert human.returncode == 0, human.stderr
    assert "(a dry run: nothing was changed)" in human.stdout
    assert "fetch python-packages: vllm==0.7.2" in human.stdout


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

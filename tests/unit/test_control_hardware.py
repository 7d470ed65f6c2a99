from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from lais_agent.control.hardware import HardwareService, significant_change
from lais_agent.hardware.profile import Cpu, Gpu, HardwareProfile, Memory, Os, Storage
from tests.conftest import run_async

BASE = HardwareProfile(
    cpu=Cpu("X", None, "x86_64", 1, 2, 4, (), 1),
    memory=Memory(8, 4, 0, 0),
    storage=Storage("/s", "/", "ext4", "/dev/x", 10, 5),
    gpus=(),
    os=Os("debian", "12", "bookworm", "Debian", "6.1", "none", None, "disabled"),
    nvidia=None,
)
GPU = Gpu("0000:01:00.0", "amd", "1002", "744c", "RX", "amdgpu", 24, 20)


def test_concurrent_refreshes_share_one_probe() -> None:
    calls = 0
    gate = threading.Event()

    def detector() -> HardwareProfile:
        nonlocal calls
        calls += 1
        gate.wait(5)
        return BASE

    async def scenario() -> None:
        service = HardwareService(detector)
        pending = [asyncio.ensure_future(service.refresh()) for _ in range(5)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(*pending)
        assert all(r is BASE for r in results)
        await service.close()

    run_async(scenario())
    assert calls == 1


def test_listeners_hear_real_changes_only() -> None:
    profiles = iter([BASE, replace(BASE, memory=Memory(8, 3, 0, 0)), replace(BASE, gpus=(GPU,))])
    heard: list[HardwareProfile] = []

    async def scenario() -> None:
        service = HardwareService(lambda: next(profiles))
        service.subscribe(heard.append)
        await service.profile()
        await service.refresh()  # only free memory differs
        await service.refresh()  # a GPU appeared
        await service.close()

    run_async(scenario())
    assert [len(p.gpus) for p in heard] == [1]


def test_significant_change_ignores_free_space() -> None:
    assert not significant_change(BASE, replace(BASE, storage=replace(BASE.storage, free_bytes=1)))
    assert significant_change(BASE, replace(BASE, gpus=(GPU,)))
    assert significant_change(
        replace(BASE, gpus=(GPU,)), replace(BASE, gpus=(replace(GPU, driver=None),))
    )


def test_a_changed_stamp_probes_again_and_a_podman_install_is_a_change() -> None:
    from lais_agent.hardware.profile import ContainerSupport

    with_podman = replace(BASE, containers=ContainerSupport(True, "4.9.3", True, ()))
    profiles = iter([BASE, with_podman])
    stamp = ["before"]
    heard: list[HardwareProfile] = []

    async def scenario() -> None:
        service = HardwareService(lambda: next(profiles), stamp=lambda: stamp[0])
        service.subscribe(heard.append)
        assert await service.profile() is BASE
        assert await service.profile() is BASE  # unchanged stamp: no probe
        stamp[0] = "after apt install podman"
        assert await service.profile() is with_podman
        await service.close()

    run_async(scenario())
    assert heard == [with_podman]  # Module objects refresh on this signal

"""UdevWatcher: events wake the loop, bursts collapse into one re-probe."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace
from typing import Any

from lais_agent.daemon.udev import UdevWatcher
from tests.conftest import run_async


class PipeMonitor:
    """Stands in for pyudev's Monitor: a readable fd and poll() returning devices."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)

    def fileno(self) -> int:
        return self.read_fd

    def emit(self, count: int) -> None:
        os.write(self.write_fd, b"x" * count)

    def poll(self, timeout: float = 0) -> Any:
        try:
            os.read(self.read_fd, 1)
        except BlockingIOError:
            return None
        return SimpleNamespace(action="bind", sys_path="/sys/devices/pci0000:00/0000:01:00.0")

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


def test_a_burst_of_events_triggers_one_refresh() -> None:
    monitor = PipeMonitor()
    calls = 0

    async def refresh() -> object:
        nonlocal calls
        calls += 1
        return None

    async def scenario() -> None:
        watcher = UdevWatcher(refresh, monitor_factory=lambda: monitor, debounce_s=0.05)
        assert watcher.start()
        monitor.emit(5)
        await asyncio.sleep(0.01)
        monitor.emit(3)
        await asyncio.sleep(0.2)
        assert calls == 1
        monitor.emit(1)
        await asyncio.sleep(0.2)
        assert calls == 2
        await watcher.stop()

    try:
        run_async(scenario())
    finally:
        monitor.close()


def test_unavailable_udev_is_not_fatal() -> None:
    def broken() -> Any:
        raise OSError("netlink: permission denied")

    async def scenario() -> bool:
        watcher = UdevWatcher(lambda: asyncio.sleep(0), monitor_factory=broken)
        started = watcher.start()
        await watcher.stop()
        return started

    assert run_async(scenario()) is False


def test_real_pyudev_monitor_opens_on_this_machine() -> None:
    from lais_agent.daemon.udev import netlink_monitor

    monitor = netlink_monitor()
    assert monitor.fileno() >= 0

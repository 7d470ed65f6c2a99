"""Hot-plug: re-probe the hardware when drm or pci devices come, go or bind.

pyudev's netlink monitor is attached to the asyncio loop; bursts of events are
debounced into one refresh. Where udev is unavailable (containers without
netlink access) the agent logs it and goes on without hot-plug.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

SUBSYSTEMS = ("drm", "pci")
DEBOUNCE_S = 1.0


def netlink_monitor() -> Any:
    """pyudev's monitor of kernel/udev events for the drm and pci subsystems, started."""
    import pyudev  # noqa: PLC0415 - optional at runtime; loaded after the name is on the bus

    monitor = pyudev.Monitor.from_netlink(pyudev.Context())
    for subsystem in SUBSYSTEMS:
        monitor.filter_by(subsystem)
    monitor.start()
    return monitor


class UdevWatcher:
    def __init__(
        self,
        on_change: Callable[[], Awaitable[object]],
        monitor_factory: Callable[[], Any] = netlink_monitor,
        debounce_s: float = DEBOUNCE_S,
    ) -> None:
        self._on_change = on_change
        self._monitor_factory = monitor_factory
        self._debounce_s = debounce_s
        self._monitor: Any = None
        self._pending: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> bool:
        try:
            monitor = self._monitor_factory()
        except Exception as exc:  # noqa: BLE001 - ImportError, OSError, netlink refusal
            logger.warning("hardware hot-plug monitoring is off: %s", exc)
            return False
        self._monitor = monitor
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(monitor.fileno(), self._readable)
        logger.info("watching udev (%s) for hardware changes", ", ".join(SUBSYSTEMS))
        return True

    def _readable(self) -> None:
        assert self._monitor is not None
        assert self._loop is not None
        while (device := self._monitor.poll(timeout=0)) is not None:
            logger.debug("udev %s %s", device.action, device.sys_path)
        if self._pending is not None:
            self._pending.cancel()
        self._pending = self._loop.call_later(self._debounce_s, self._fire)

    def _fire(self) -> None:
        assert self._loop is not None
        self._pending = None
        task: asyncio.Task[object] = self._loop.create_task(self._run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self) -> object:
        try:
            return await self._on_change()
        except Exception:
            logger.exception("re-probe after a udev event failed")
            return None

    async def stop(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        if self._monitor is not None and self._loop is not None:
            self._loop.remove_reader(self._monitor.fileno())
            self._monitor = None
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)

"""The agent's view of the hardware: current profile, coalesced refreshes, listeners."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lais_agent.hardware.profile import HardwareProfile

logger = logging.getLogger(__name__)

Detector = Callable[[], HardwareProfile]
Listener = Callable[[HardwareProfile], None]
Stamp = Callable[[], object]


class HardwareService:
    """Holds the latest HardwareProfile.

    Detection runs in a worker thread (sysfs reads and NVML calls block).
    Concurrent refresh requests share one run. Listeners hear about changes only.
    ``stamp`` (optional) is a cheap check of what udev does not announce (podman
    installed, a CDI spec written): when it changes, the next ``profile()`` probes again.
    """

    def __init__(self, detector: Detector, stamp: Stamp | None = None) -> None:
        self._detector = detector
        self._stamp = stamp
        self._stamp_value: object = None
        self._profile: HardwareProfile | None = None
        self._running: asyncio.Task[HardwareProfile] | None = None
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def current(self) -> HardwareProfile | None:
        return self._profile

    async def profile(self) -> HardwareProfile:
        """The latest profile, probing first if there is none yet or it went stale."""
        if self._profile is not None and (
            self._stamp is None or self._stamp() == self._stamp_value
        ):
            return self._profile
        return await self.refresh()

    async def refresh(self) -> HardwareProfile:
        """Probe again; returns the new profile. Concurrent callers share one probe."""
        if self._running is None:
            self._running = asyncio.get_running_loop().create_task(self._probe())
        running = self._running
        return await asyncio.shield(running)

    async def _probe(self) -> HardwareProfile:
        try:
            if self._stamp is not None:  # before probing: a change meanwhile shows next time
                self._stamp_value = self._stamp()
            profile = await asyncio.to_thread(self._detector)
        finally:
            self._running = None
        previous, self._profile = self._profile, profile
        if previous is not None and significant_change(previous, profile):
            logger.info("hardware changed: %d GPU(s) now", len(profile.gpus))
            for listener in self._listeners:
                listener(profile)
        return profile

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.wait({self._running}, timeout=10)


def significant_change(before: HardwareProfile, after: HardwareProfile) -> bool:
    """Whether the hardware itself changed (free memory or free space do not count), or
    what modules can use of the host: container support, the release's Python."""
    return _identity(before) != _identity(after)


def _identity(profile: HardwareProfile) -> object:
    gpus = tuple(
        (g.pci_bus_id, g.vendor, g.device_id, g.driver, g.vram_total_bytes, g.uuid, g.mig_mode)
        for g in profile.gpus
    )
    facts = (profile.memory.total_bytes, profile.nvidia, profile.containers, profile.os.python)
    return (gpus, profile.cpu, *facts)

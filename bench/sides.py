"""The two sides of the comparison, the agent and the floor, each on its own private bus:
setting up the buses (with dbusmock's polkitd for the agent), starting and stopping
each server while a client watches its name, and tearing everything down."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.client import check_reply, list_modules_message, status_message
from bench.errors import BenchError
from bench.name_watch import NameWatch
from bench.paths import BENCH, PYTHON, REPO
from bench.processes import release, spawn, stop_owned
from lais_agent import names
from tests.bus.harness import PolkitMock, PrivateBus, stop_process

MIB = 1024 * 1024


@dataclass
class Side:
    """One side of the comparison: the agent or the floor, on its own private bus."""

    label: str
    bus: PrivateBus
    argv: list[str]
    logdir: Path
    watch: NameWatch | None = None
    proc: subprocess.Popen[bytes] | None = None
    daemon_pid: int = 0

    @property
    def address(self) -> str:
        return self.bus.address

    def tracked(self) -> dict[str, int]:
        assert self.proc is not None
        return {"server": self.proc.pid, "dbus_daemon": self.daemon_pid}

    async def start(
        self, argv: Sequence[str] | None = None, *, timeout: float = 30
    ) -> dict[str, Any]:
        """Spawn, wait (``timeout`` s) for NameOwnerChanged, measure RSS, make the first call."""
        assert self.watch is not None
        assert self.watch.bus is not None
        if self.proc is not None:
            raise BenchError(f"{self.label} is already running")
        self.watch.drain()
        log = self.logdir / f"{self.label}.log"
        t0 = time.perf_counter()
        self.proc = spawn(argv or self.argv, env=self.bus.env(), log=log)
        try:
            t_name, owner = await self.watch.next_change(self.proc, acquired=True, timeout=timeout)
        except BenchError as exc:
            raise BenchError(f"{self.label}: {exc}\n{log.read_text()[-3000:]}") from None
        ps = psutil.Process(self.proc.pid)
        mem_name = ps.memory_info().rss
        if await self.watch.owner_pid(owner) != self.proc.pid:
            raise BenchError(f"{names.BUS_NAME} is owned by another process than {self.label}")
        t1 = time.perf_counter()
        reply = check_reply(await self.watch.bus.call(status_message()))
        first_call = time.perf_counter() - t1
        full = ps.memory_full_info()
        return {
            "name_ms": round((t_name - t0) * 1000, 1),
            "rss_at_name_mib": round(mem_name / MIB, 2),
            "first_call_ms": round(first_call * 1000, 2),
            "rss_after_first_call_mib": round(full.rss / MIB, 2),
            "uss_after_first_call_mib": round(full.uss / MIB, 2),
            "reply": reply.body[0],
        }

    async def stop(self) -> int:
        assert self.watch is not None
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(BenchError):
                await self.watch.next_change(proc, acquired=False, timeout=10)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        rc = stop_process(proc)  # type: ignore[arg-type]  # kills if still running
        release(proc)
        if rc != 0:
            log = self.logdir / f"{self.label}.log"
            raise BenchError(f"{self.label} exited with {rc}:\n{log.read_text()[-3000:]}")
        return rc

    async def catalog_in_use(self) -> float:
        """The agent with its catalog and policies loaded, as after any module call
        (ListModules). Seconds the call took."""
        assert self.watch is not None
        assert self.watch.bus is not None
        t0 = time.perf_counter()
        check_reply(await self.watch.bus.call(list_modules_message()))
        return round(time.perf_counter() - t0, 3)

    def memory(self) -> dict[str, float]:
        assert self.proc is not None
        full = psutil.Process(self.proc.pid).memory_full_info()
        return {"rss_mib": round(full.rss / MIB, 2), "uss_mib": round(full.uss / MIB, 2)}


@contextlib.contextmanager
def open_sides(tmp: Path) -> Iterator[tuple[Side, Side]]:
    """Start both private buses and polkitd; yield (agent, floor), neither server running.

    On the way out, whatever happened: every process this run owns is stopped by PID,
    then polkitd and the buses, in reverse order of starting.
    """
    agent_bus = PrivateBus()
    floor_bus = PrivateBus()
    polkit = PolkitMock(agent_bus)
    stoppers: list[Callable[[], object]] = []
    try:
        agent_bus.start()
        stoppers.append(agent_bus.stop)
        polkit.start()
        stoppers.append(polkit.stop)
        floor_bus.start()
        stoppers.append(floor_bus.stop)
        assert agent_bus.proc is not None
        assert floor_bus.proc is not None
        agent = Side(
            "agent",
            agent_bus,
            [
                PYTHON,
                "-m",
                "lais_agent",
                "--bus",
                agent_bus.address,
                "--no-udev",
                # the shipped data, as the package installs it; state and admin dirs of its own
                *("--policy-dir", str(REPO / "policies"), "--catalog-dir", str(REPO / "catalog")),
                *("--state-dir", str(tmp / "state"), "--admin-policy-dir", str(tmp / "none")),
                *("--admin-catalog-dir", str(tmp / "none"), "--keys-dir", str(tmp / "none")),
                *("--admin-keys-dir", str(tmp / "none")),
            ],
            tmp,
            daemon_pid=agent_bus.proc.pid,
        )
        floor = Side(
            "floor",
            floor_bus,
            [
                PYTHON,
                str(BENCH / "floor_server.py"),
                "--bus",
                floor_bus.address,
                "--payload",
                str(tmp / "payload.json"),
            ],
            tmp,
            daemon_pid=floor_bus.proc.pid,
        )
        yield agent, floor
    finally:
        stop_owned()
        for stopper in reversed(stoppers):
            try:
                stopper()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                print(f"bench/run.py: cleanup: {exc}", file=sys.stderr)

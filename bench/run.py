"""LocalAIStack benchmark: the agent beside a bare dbus-fast floor, laisctl beside busctl.

One run measures, side by side on the same machine:

(a) ``Manager.GetStatus`` round-trip latency (sequential) and throughput (50 calls in
    flight) from a dbus-fast asyncio client sending raw ``Message``s, against the real
    agent and against ``bench/floor_server.py`` (same name, path, interface and reply
    shape; nothing else). Rounds alternate agent/floor; medians are reported.
(b) ``laisctl status`` wall time beside the same call made with ``busctl``, plus a
    breakdown of where laisctl's start-up goes.
(c) Agent RSS after the name is acquired, after the first call, after 50k and 100k
    calls, and the time from exec to the name appearing on the bus (seen as a
    ``NameOwnerChanged`` signal by a client connected before the spawn).

Every cell also records the CPU that other tenants of the machine used meanwhile:
all busy CPU from /proc/stat minus the CPU of this process tree. The agent runs on a
private system-like dbus-daemon with python-dbusmock's polkitd, exactly as the bus
tests run it (tests/bus/harness.py). The client runs as root, so the agent's gate lets
it through after one cached GetConnectionUnixUser lookup, without asking polkit.

    $(scripts/dev-env.sh)/bin/python bench/run.py [--quick] [--no-profile]

Prints a Markdown results section; writes raw data to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import importlib.metadata
import json
import os
import platform
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.bus.harness; lais_agent is installed editable

from lais_agent import names  # noqa: E402
from tests.bus.harness import PolkitMock, PrivateBus, stop_process  # noqa: E402

PYTHON = sys.executable
LAISCTL = str(Path(PYTHON).parent / "laisctl")
TICK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
TIMES = "\N{MULTIPLICATION SIGN}"

TARGETS = {
    "p50_us": 250.0,
    "p99_us": 1000.0,
    "calls_per_s": 8000.0,
    "laisctl_ms": 80.0,
    "idle_rss_mib": 40.0,
    "name_ms": 300.0,
}


@dataclass(frozen=True)
class Plan:
    """How much to measure; --quick shrinks everything for a smoke run."""

    rounds: int = 3
    warmup: int = 200
    latency_calls: int = 2000
    inflight: int = 50
    throughput_s: float = 5.0
    cli_runs: int = 20
    breakdown_runs: int = 10
    starts: int = 10
    hammer_calls: int = 50_000
    profile_calls: int = 20_000
    quiet_cores: float = 0.3
    quiet_wait_s: float = 120.0

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            rounds=1,
            warmup=50,
            latency_calls=300,
            throughput_s=1.0,
            cli_runs=5,
            breakdown_runs=3,
            starts=3,
            hammer_calls=5_000,
            profile_calls=3_000,
            quiet_wait_s=10.0,
        )


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# Processes: everything started here is stopped by PID in main()'s finally.

OWNED: list[subprocess.Popen[bytes]] = []


def spawn(argv: Sequence[str], *, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        proc = subprocess.Popen(
            list(argv), env=dict(env), cwd=REPO, stdout=subprocess.DEVNULL, stderr=err
        )
    OWNED.append(proc)
    return proc


def stop_owned() -> None:
    for proc in reversed(OWNED):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    OWNED.clear()


# ---------------------------------------------------------------------------
# CPU accounting per cell: machine busy CPU vs. this process tree.


def _machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds since boot, all CPUs, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


def _process_cpu(proc: psutil.Process) -> float:
    """User+system of a process and of the children it has reaped."""
    t = proc.cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


def _ours() -> float:
    me = psutil.Process()
    total = _process_cpu(me)
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
            total += _process_cpu(child)
    return total


@dataclass(frozen=True)
class CpuSample:
    wall: float
    busy: float
    steal: float
    ours: float
    procs: dict[str, float]

    @classmethod
    def now(cls, tracked: Mapping[str, int]) -> CpuSample:
        busy, steal = _machine_cpu()
        procs = {}
        for label, pid in tracked.items():
            with contextlib.suppress(psutil.NoSuchProcess):
                procs[label] = _process_cpu(psutil.Process(pid))
        return cls(time.perf_counter(), busy, steal, _ours(), procs)


@dataclass
class Meter:
    """Wall time and CPU over one cell. ``tracked`` names processes to report separately.

    other_tenants_cores = (machine busy CPU - this process tree's CPU) / wall time.
    Busy is user+nice+system+irq+softirq from /proc/stat; steal is reported apart.
    """

    tracked: Mapping[str, int] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> Meter:
        self._start = CpuSample.now(self.tracked)
        return self

    def __exit__(self, *exc: object) -> None:
        end, start = CpuSample.now(self.tracked), self._start
        wall = end.wall - start.wall
        ours = end.ours - start.ours
        self.result = {
            "wall_s": round(wall, 3),
            "other_tenants_cores": round((end.busy - start.busy - ours) / wall, 3),
            "ours_cores": round(ours / wall, 3),
            "steal_cores": round((end.steal - start.steal) / wall, 3),
            "cpu_s": {
                k: round(end.procs[k] - start.procs[k], 4) for k in end.procs if k in start.procs
            },
        }


def speed_probe() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 3): how fast this vCPU runs now.

    Other VMs on the same host slow every figure down without showing up in
    /proc/stat (steal stays near 0 here), so each cell records this beside the
    other tenants' CPU; compare runs by it before comparing absolute figures.
    """
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i & 7
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 2)


def wait_quiet(plan: Plan) -> dict[str, float]:
    """Before a cell: wait (up to plan.quiet_wait_s) until other tenants use less than
    plan.quiet_cores over one second. Our servers are idle then, so machine busy CPU
    minus ours is theirs. Returns how long we waited and the last reading."""
    start = time.monotonic()
    while True:
        with Meter() as meter:
            time.sleep(1.0)
        other = float(meter.result["other_tenants_cores"])
        waited = time.monotonic() - start
        if other < plan.quiet_cores or waited >= plan.quiet_wait_s:
            if other >= plan.quiet_cores:
                print(f"  (still {other:.2f} other cores after {waited:.0f} s)", file=sys.stderr)
            return {
                "quiet_wait_s": round(waited, 1),
                "other_cores_before": round(other, 2),
                "speed_probe_ms": speed_probe(),
            }


# ---------------------------------------------------------------------------
# Client side (dbus-fast asyncio, raw Message + bus.call).


def status_message() -> Message:
    return Message(
        destination=names.BUS_NAME,
        path=names.ROOT_PATH,
        interface=names.MANAGER_IFACE,
        member="GetStatus",
    )


def _check(reply: Message) -> Message:
    if reply.message_type is not MessageType.METHOD_RETURN:
        raise BenchError(f"GetStatus failed: {reply.error_name}: {reply.body}")
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
            _check(await bus.call(status_message()))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    return time.perf_counter() - start


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


async def latency_cell(address: str, plan: Plan) -> dict[str, Any]:
    bus = await connect(address)
    try:
        for _ in range(plan.warmup):
            _check(await bus.call(status_message()))
        samples: list[float] = []
        with Meter() as meter:
            for _ in range(plan.latency_calls):
                start = time.perf_counter_ns()
                reply = await bus.call(status_message())
                samples.append((time.perf_counter_ns() - start) / 1000)
                _check(reply)
    finally:
        await close(bus)
    samples.sort()
    return {
        "calls": len(samples),
        "p50_us": round(percentile(samples, 50), 1),
        "p90_us": round(percentile(samples, 90), 1),
        "p99_us": round(percentile(samples, 99), 1),
        "max_us": round(samples[-1], 1),
        "mean_us": round(statistics.fmean(samples), 1),
        **meter.result,
    }


async def throughput_cell(address: str, plan: Plan, tracked: Mapping[str, int]) -> dict[str, Any]:
    bus = await connect(address)
    count = 0

    async def worker(deadline: float) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            _check(await bus.call(status_message()))
            count += 1

    try:
        await burst(bus, plan.inflight * 20, plan.inflight)
        with Meter(tracked) as meter:
            start = time.perf_counter()
            await asyncio.gather(*(worker(start + plan.throughput_s) for _ in range(plan.inflight)))
            elapsed = time.perf_counter() - start
    finally:
        await close(bus)
    per_call = {
        f"{label}_cpu_us_per_call": round(seconds / count * 1e6, 1)
        for label, seconds in meter.result["cpu_s"].items()
    }
    return {
        "calls": count,
        "elapsed_s": round(elapsed, 3),
        "calls_per_s": round(count / elapsed),
        **per_call,
        **meter.result,
    }


# ---------------------------------------------------------------------------
# Servers: the agent and the floor, started while a client watches the name.


class NameWatch:
    """A connection made before any spawn that hears every owner change of the name."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.bus: MessageBus | None = None
        self._events: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

    async def open(self) -> NameWatch:
        self.bus = await connect(self.address)
        self.bus.add_message_handler(self._on_message)
        rule = (
            "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
            f"member='NameOwnerChanged',arg0='{names.BUS_NAME}'"
        )
        reply = await self.bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[rule],
            )
        )
        if reply.message_type is not MessageType.METHOD_RETURN:
            raise BenchError(f"AddMatch failed: {reply.body}")
        return self

    def _on_message(self, msg: Message) -> None:
        if (
            msg.message_type is MessageType.SIGNAL
            and msg.member == "NameOwnerChanged"
            and msg.body
            and msg.body[0] == names.BUS_NAME
        ):
            self._events.put_nowait((time.perf_counter(), str(msg.body[2])))

    def drain(self) -> None:
        while not self._events.empty():
            self._events.get_nowait()

    async def next_change(
        self, proc: subprocess.Popen[bytes], *, acquired: bool, timeout: float = 30
    ) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                when, owner = await asyncio.wait_for(self._events.get(), 0.1)
            except asyncio.TimeoutError:
                if acquired and proc.poll() is not None:
                    raise BenchError(f"server exited with {proc.returncode}") from None
                continue
            if bool(owner) == acquired:
                return when, owner
        raise BenchError(f"timed out waiting for {names.BUS_NAME} to be {acquired=}")

    async def owner_pid(self, owner: str) -> int:
        assert self.bus is not None
        reply = await self.bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="GetConnectionUnixProcessID",
                signature="s",
                body=[owner],
            )
        )
        return int(reply.body[0]) if reply.message_type is MessageType.METHOD_RETURN else -1

    async def close(self) -> None:
        if self.bus is not None:
            await close(self.bus)


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

    async def start(self, argv: Sequence[str] | None = None) -> dict[str, Any]:
        """Spawn, wait for NameOwnerChanged, measure RSS, make the first call."""
        assert self.watch is not None
        assert self.watch.bus is not None
        if self.proc is not None:
            raise BenchError(f"{self.label} is already running")
        self.watch.drain()
        log = self.logdir / f"{self.label}.log"
        t0 = time.perf_counter()
        self.proc = spawn(argv or self.argv, env=self.bus.env(), log=log)
        try:
            t_name, owner = await self.watch.next_change(self.proc, acquired=True)
        except BenchError as exc:
            raise BenchError(f"{self.label}: {exc}\n{log.read_text()[-3000:]}") from None
        ps = psutil.Process(self.proc.pid)
        mem_name = ps.memory_info().rss
        if await self.watch.owner_pid(owner) != self.proc.pid:
            raise BenchError(f"{names.BUS_NAME} is owned by another process than {self.label}")
        t1 = time.perf_counter()
        reply = _check(await self.watch.bus.call(status_message()))
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
        OWNED.remove(proc)
        if rc != 0:
            log = self.logdir / f"{self.label}.log"
            raise BenchError(f"{self.label} exited with {rc}:\n{log.read_text()[-3000:]}")
        return rc

    def memory(self) -> dict[str, float]:
        assert self.proc is not None
        full = psutil.Process(self.proc.pid).memory_full_info()
        return {"rss_mib": round(full.rss / MIB, 2), "uss_mib": round(full.uss / MIB, 2)}


def variant_to_json(value: Variant) -> list[Any]:
    """The inverse of floor_server.variant_from_json."""
    if value.signature == "a{sv}":
        return [value.signature, {k: variant_to_json(v) for k, v in value.value.items()}]
    return [value.signature, value.value]


def shape(tree: Mapping[str, Variant]) -> dict[str, Any]:
    return {k: shape(v.value) if v.signature == "a{sv}" else v.signature for k, v in tree.items()}


# ---------------------------------------------------------------------------
# Phases.


def alternate(sides: Sequence[Side], rounds: int) -> Iterator[tuple[int, Side]]:
    """A-B, B-A, A-B, ...: neither side always goes first."""
    for r in range(rounds):
        for side in sides if r % 2 == 0 else reversed(sides):
            yield r, side


def median_of(cells: Sequence[Mapping[str, Any]], key: str) -> float:
    return float(statistics.median(c[key] for c in cells))


async def phase_startup(agent: Side, floor: Side, plan: Plan, payload_file: Path) -> dict[str, Any]:
    """Warm-up start of each (captures the payload), then ``plan.starts`` alternating."""
    warm = await agent.start()
    payload: dict[str, Variant] = warm.pop("reply")
    await agent.stop()
    payload_file.write_text(json.dumps({k: variant_to_json(v) for k, v in payload.items()}))
    floor_warm = await floor.start()
    floor_reply = floor_warm.pop("reply")
    await floor.stop()
    if shape(floor_reply) != shape(payload):
        raise BenchError(f"floor reply shape {shape(floor_reply)} != agent {shape(payload)}")
    starts: dict[str, list[dict[str, Any]]] = {agent.label: [], floor.label: []}
    waits: list[dict[str, float]] = []
    with Meter() as meter:
        for _, side in alternate([agent, floor], plan.starts):
            if side is agent:
                waits.append(await asyncio.to_thread(wait_quiet, plan))
            record = await side.start()
            record.pop("reply")
            await side.stop()
            starts[side.label].append(record)
    summary = {
        label: {
            key: {
                "median": round(median_of(records, key), 2),
                "min": min(r[key] for r in records),
                "max": max(r[key] for r in records),
            }
            for key in records[0]
        }
        for label, records in starts.items()
    }
    return {
        "payload_shape": shape(payload),
        "warmup_start": {agent.label: warm, floor.label: floor_warm},
        "starts": starts,
        "quiet_waits": waits,
        "summary": summary,
        **meter.result,
    }


async def phase_memory(agent: Side, floor: Side, plan: Plan) -> dict[str, Any]:
    """Fresh long-lived servers; RSS at name, after the first call, 50k and 100k calls."""
    out: dict[str, Any] = {}
    for side in (agent, floor):
        record = await side.start()
        record.pop("reply")
        out[side.label] = {"start": record, "after": [], "cells": []}
    for _, side in alternate([agent, floor], 2):
        quiet = await asyncio.to_thread(wait_quiet, plan)
        bus = await connect(side.address)
        try:
            with Meter(side.tracked()) as meter:
                elapsed = await burst(bus, plan.hammer_calls, plan.inflight)
        finally:
            await close(bus)
        done = plan.hammer_calls * (len(out[side.label]["after"]) + 1)
        out[side.label]["after"].append({"calls": done, **side.memory()})
        per_call = {
            f"{k}_cpu_us_per_call": round(v / plan.hammer_calls * 1e6, 1)
            for k, v in meter.result["cpu_s"].items()
        }
        out[side.label]["cells"].append(
            {
                "calls_per_s": round(plan.hammer_calls / elapsed),
                **per_call,
                **quiet,
                **meter.result,
            }
        )
    return out


async def phase_calls(agent: Side, floor: Side, plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {side.label: {"latency": [], "throughput": []} for side in (agent, floor)}
    for r, side in alternate([agent, floor], plan.rounds):
        quiet = await asyncio.to_thread(wait_quiet, plan)
        lat = await latency_cell(side.address, plan)
        tput = await throughput_cell(side.address, plan, side.tracked())
        out[side.label]["latency"].append({"round": r, **quiet, **lat})
        out[side.label]["throughput"].append({"round": r, **tput})
        print(
            f"  round {r} {side.label}: p50 {lat['p50_us']} us p99 {lat['p99_us']} us, "
            f"{tput['calls_per_s']} calls/s "
            f"(other tenants {lat['other_tenants_cores']}/{tput['other_tenants_cores']})",
            file=sys.stderr,
        )
    for side in (agent, floor):
        cells = out[side.label]
        cells["summary"] = {
            "p50_us": median_of(cells["latency"], "p50_us"),
            "p99_us": median_of(cells["latency"], "p99_us"),
            "calls_per_s": median_of(cells["throughput"], "calls_per_s"),
            "server_cpu_us_per_call": median_of(cells["throughput"], "server_cpu_us_per_call"),
            "dbus_daemon_cpu_us_per_call": median_of(
                cells["throughput"], "dbus_daemon_cpu_us_per_call"
            ),
        }
    return out


async def phase_profile(side: Side, plan: Plan, out: Path) -> dict[str, Any]:
    """cProfile the running server over ``plan.profile_calls`` calls (not its start-up)."""
    argv = [PYTHON, str(BENCH / "profiled.py"), str(out), *side.argv[1:]]
    await side.start(argv)
    assert side.proc is not None
    try:
        bus = await connect(side.address)
        try:
            await burst(bus, 1000, plan.inflight)
            side.proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(0.2)
            await burst(bus, plan.profile_calls, plan.inflight)
            side.proc.send_signal(signal.SIGUSR2)
            for _ in range(500):
                if out.exists():
                    break
                await asyncio.sleep(0.02)
        finally:
            await close(bus)
    finally:
        await side.stop()
    stats = pstats.Stats(str(out))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    for (filename, line, func), (prim, ncalls, tottime, cumtime, _callers) in raw.items():
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({func})",
                "ncalls": ncalls,
                "primitive": prim,
                "tottime_us_per_request": round(tottime / plan.profile_calls * 1e6, 2),
                "cumtime_us_per_request": round(cumtime / plan.profile_calls * 1e6, 2),
            }
        )
    total_calls = sum(r["ncalls"] for r in rows)
    busy = [r for r in rows if "select.epoll" not in r["function"]]
    total_time = sum(r["tottime_us_per_request"] for r in busy)

    def per_request(module: str, func: str) -> float:
        calls: int = sum(
            r["ncalls"] for r in rows if module in r["function"] and r["function"].endswith(func)
        )
        return round(calls / plan.profile_calls, 2)

    return {
        "requests": plan.profile_calls,
        "python_calls_per_request": round(total_calls / plan.profile_calls, 1),
        "profiled_us_per_request": round(total_time, 1),
        "tasks_per_request": per_request("asyncio/base_events.py", "(create_task)"),
        "loop_callbacks_per_request": per_request("asyncio/events.py", "(_run)"),
        "top_tottime": sorted(rows, key=lambda r: -r["tottime_us_per_request"])[:15],
        "top_ncalls": sorted(rows, key=lambda r: -r["ncalls"])[:15],
    }


def _short(filename: str) -> str:
    """Paths relative to site-packages, the stdlib or the checkout."""
    if filename.startswith(str(REPO) + "/"):
        return filename[len(str(REPO)) + 1 :]
    return re.sub(r"^.*/(site-packages|dist-packages|lib/python3\.\d+)/", "", filename)


def timed_run(argv: Sequence[str], env: Mapping[str, str], expect: str = "") -> float:
    """Wall milliseconds of one process, from spawn to reaped; checks it worked."""
    start = time.perf_counter()
    done = subprocess.run(list(argv), env=dict(env), capture_output=True, cwd="/", check=False)
    wall = (time.perf_counter() - start) * 1000
    if done.returncode != 0 or expect.encode() not in done.stdout:
        raise BenchError(f"{argv} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return wall


def interleaved(
    commands: Mapping[str, tuple[list[str], str]], env: Mapping[str, str], runs: int, plan: Plan
) -> dict[str, Any]:
    """Each command ``runs`` times, interleaved (rotating order), after one unrecorded run."""
    labels = list(commands)
    walls: dict[str, list[float]] = {label: [] for label in labels}
    for label in labels:
        timed_run(commands[label][0], env, commands[label][1])  # page cache, pyc
    waits: list[dict[str, float]] = []
    with Meter() as meter:
        for i in range(runs):
            if i % 5 == 0:
                waits.append(wait_quiet(plan))
            for label in labels[i % len(labels) :] + labels[: i % len(labels)]:
                argv, expect = commands[label]
                walls[label].append(timed_run(argv, env, expect))
    return {
        "cells": {
            label: {
                "runs": len(w),
                "median_ms": round(statistics.median(w), 1),
                "min_ms": round(min(w), 1),
                "max_ms": round(max(w), 1),
                "all_ms": [round(x, 1) for x in w],
            }
            for label, w in walls.items()
        },
        "quiet_waits": waits,
        **meter.result,
    }


def busctl_argv(address: str) -> list[str]:
    return [
        "busctl",
        f"--address={address}",
        "call",
        names.BUS_NAME,
        names.ROOT_PATH,
        names.MANAGER_IFACE,
        "GetStatus",
    ]


def plain_layout(tmp: Path) -> Path:
    """A venv laid out like the .deb's: packages on plain sys.path entries.

    The development venv installs the project editable; its .pth hook imports an
    import finder (pathlib, importlib.util, ...) in *every* interpreter it starts,
    laisctl included. The shipped venv has no such hook. This venv sees the same
    packages (the dev venv's site-packages and the checkout as .pth path lines,
    which site.py appends without running anything) and gets the same laisctl
    script, so the difference between the two is that hook alone.
    """
    venv = tmp / "venv-plain"
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}"
    subprocess.run(
        [str(base), "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
    )
    purelib = Path(sysconfig.get_paths()["purelib"])
    ours = venv / purelib.relative_to(sys.prefix)
    (ours / "_bench_paths.pth").write_text(f"{purelib}\n{REPO}\n")
    # the launcher the .deb installs (packaging/laisctl), pointed at this venv
    launcher = (REPO / "packaging" / "laisctl").read_text()
    laisctl = venv / "bin" / "laisctl"
    laisctl.write_text(launcher.replace("/usr/lib/localaistack", str(venv)))
    laisctl.chmod(0o755)
    return venv


def phase_cli(agent: Side, plan: Plan, tmp: Path) -> dict[str, Any]:
    env = agent.bus.env()
    plain = plain_layout(tmp)
    main = interleaved(
        {
            "laisctl status": ([str(plain / "bin" / "laisctl"), "status"], "lais-agent"),
            "busctl call GetStatus": (busctl_argv(agent.address), "a{sv}"),
        },
        env,
        plan.cli_runs,
        plan,
    )
    plain_python = str(plain / "bin" / "python3")
    breakdown = interleaved(
        {
            "python -I -S -c pass": ([PYTHON, "-I", "-S", "-c", "pass"], ""),
            "python -c pass": ([PYTHON, "-c", "pass"], ""),
            "python -c 'import click'": ([PYTHON, "-c", "import click"], ""),
            "python -c 'import dbus'": ([PYTHON, "-c", "import dbus"], ""),
            "python -c 'import argparse'": ([PYTHON, "-c", "import argparse"], ""),
            "laisctl --version": ([LAISCTL, "--version"], "laisctl"),
            "dev venv: laisctl status": ([LAISCTL, "status"], "lais-agent"),
            "plain venv: python -c pass": ([plain_python, "-c", "pass"], ""),
            "plain venv: laisctl status": (
                [str(plain / "bin" / "laisctl"), "status"],
                "lais-agent",
            ),
        },
        env,
        plan.breakdown_runs,
        plan,
    )
    # Import costs alone: `python -S` with the same packages on PYTHONPATH, so no .pth
    # hook runs and each row is interpreter + exactly the named imports.
    paths = [sysconfig.get_paths()["purelib"], *(p for p in sys.path if "dist-packages" in p)]
    bare_env = {**env, "PYTHONPATH": os.pathsep.join([*paths, str(REPO)])}
    cli_modules = "lais_agent.cli.main, lais_agent.cli.client, lais_agent.cli.output"
    imports = interleaved(
        {
            f"python -S -c '{code}'": ([PYTHON, "-S", "-c", code], "")
            for code in (
                "pass",
                "import click",
                "import argparse",
                "import dbus",
                "import _dbus_bindings",
                "import json",
                "import click, dbus",
                "import argparse, dbus",
                f"import {cli_modules}",
            )
        },
        bare_env,
        plan.breakdown_runs,
        plan,
    )
    return {
        "main": main,
        "breakdown": breakdown,
        "imports": imports,
        "importtime": importtime([LAISCTL, "status"], env),
        # the packaged launcher is a sh wrapper; time what it runs: python -I -c ...
        "importtime_plain": importtime(
            [
                str(plain / "bin" / "python3"),
                "-I",
                "-c",
                "from lais_agent.cli.main import main; main()",
                "status",
            ],
            env,
        ),
    }


def importtime(argv: Sequence[str], env: Mapping[str, str], runs: int = 5) -> dict[str, Any]:
    """``python -X importtime <script>``: imports at the top two levels, cumulative ms.

    ``argv`` is a Python script (its #! names the interpreter) or an interpreter
    followed by its arguments.
    """
    script = list(argv)
    if Path(script[0]).name.startswith("python"):
        interpreter, script = script[0], script[1:]
    else:
        interpreter = Path(script[0]).read_text().splitlines()[0].removeprefix("#!").strip()
    samples: list[dict[str, int]] = []
    for _ in range(runs):
        done = subprocess.run(
            [interpreter, "-X", "importtime", *script],
            env=dict(env),
            capture_output=True,
            cwd="/",
            check=True,
        )
        seen: dict[str, int] = {}
        for line in done.stderr.decode().splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _head, cumulative, name = line.split("|", 2)
            level = (len(name) - len(name.lstrip()) - 1) // 2
            if level <= 1:
                key = ("  " * level) + name.strip()
                seen[key] = seen.get(key, 0) + int(cumulative)
        samples.append(seen)
    keys = {k for s in samples for k in s}
    medians = {k: statistics.median(s.get(k, 0) for s in samples) / 1000 for k in keys}
    top = {k: v for k, v in medians.items() if not k.startswith(" ")}
    nested = {k.strip(): v for k, v in medians.items() if k.startswith(" ")}
    return {
        "runs": runs,
        "top_level_cumulative_ms": {
            k: round(v, 1) for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:8]
        },
        "second_level_cumulative_ms": {
            k: round(v, 1) for k, v in sorted(nested.items(), key=lambda kv: -kv[1])[:15]
        },
        "total_top_level_ms": round(sum(top.values()), 1),
    }


# ---------------------------------------------------------------------------
# Report.


def verdict(measured: float, target: float, *, higher_is_better: bool = False) -> str:
    if higher_is_better:
        if measured >= target:
            return "met"
        return f"missed by {(target - measured) / target * 100:.0f}%"
    if measured <= target:
        return "met"
    return f"missed by {(measured - target) / target * 100:.0f}%"


def summary_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    calls = results["calls"]
    a, f = calls["agent"]["summary"], calls["floor"]["summary"]
    cli = results["cli"]["main"]["cells"]
    su = results["startup"]["summary"]
    rows = [
        ("GetStatus p50 (µs)", "p50_us", a["p50_us"], f["p50_us"], False),
        ("GetStatus p99 (µs)", "p99_us", a["p99_us"], f["p99_us"], False),
        ("GetStatus throughput, 50 in flight (calls/s)", "calls_per_s", a["calls_per_s"],
         f["calls_per_s"], True),
        ("`laisctl status` wall (packaged launcher), median (ms); floor = busctl", "laisctl_ms",
         cli["laisctl status"]["median_ms"], cli["busctl call GetStatus"]["median_ms"], False),
        ("Idle RSS after first GetStatus, median (MiB)", "idle_rss_mib",
         su["agent"]["rss_after_first_call_mib"]["median"],
         su["floor"]["rss_after_first_call_mib"]["median"], False),
        ("Exec to name acquired, median (ms)", "name_ms", su["agent"]["name_ms"]["median"],
         su["floor"]["name_ms"]["median"], False),
    ]  # fmt: skip
    return [
        {
            "metric": label,
            "target": TARGETS[key],
            "higher_is_better": better,
            "measured": measured,
            "floor": floor_value,
            "ratio_to_floor": round(measured / floor_value, 2) if floor_value else None,
            "verdict": verdict(measured, TARGETS[key], higher_is_better=better),
        }
        for label, key, measured, floor_value, better in rows
    ]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _probe(waits: Sequence[Mapping[str, float]]) -> float:
    return round(statistics.median(w["speed_probe_ms"] for w in waits), 2) if waits else 0.0


def markdown(results: Mapping[str, Any]) -> str:
    env = results["environment"]
    out: list[str] = []
    add = out.append
    add(f"## Results {results['started']} ({results['mode']} run)\n")
    add(
        f"Machine: {env['cpu_model']}, {env['cpus']} CPUs, {env['mem_gib']} GiB, kernel "
        f"{env['kernel']}, {env['os']}; Python {env['python']} (`{env['python_path']}`), "
        f"dbus-fast {env['dbus_fast']}, dbus-python {env['dbus_python']}, "
        f"{env['dbus_daemon']}, {env['busctl']}. Load average at start {env['loadavg']}; "
        f"speed probe {env['speed_probe_ms']} ms (a fixed Python loop; lower is faster). "
        f"Caller uid 0: the agent's gate passes root after one cached "
        f"GetConnectionUnixUser lookup, without a polkit round trip.\n"
    )
    add("| metric | target | measured | floor | ratio to floor | verdict |")
    add("|---|---|---|---|---|---|")
    for row in results["summary"]:
        sign = "≥" if row["higher_is_better"] else "≤"
        add(
            f"| {row['metric']} | {sign} {_fmt(row['target'])} | {_fmt(row['measured'])} | "
            f"{_fmt(row['floor'])} | {row['ratio_to_floor']}{TIMES} | {row['verdict']} |"
        )

    calls = results["calls"]
    add("\n### (a) GetStatus from a dbus-fast asyncio client (raw Message + bus.call)\n")
    add(
        "Latency: sequential calls after warm-up; throughput: 50 calls in flight. One row "
        "per round; rounds alternate agent/floor. CPU µs/call measured during the "
        "throughput cell; other tenants in cores (latency cell / throughput cell). Before "
        f"each pair of cells the run waited until other tenants used < "
        f"{results['plan']['quiet_cores']} cores (at most {results['plan']['quiet_wait_s']:.0f} s)."
        "\n"
    )
    add(
        "| round | side | p50 µs | p90 µs | p99 µs | max µs | calls/s | server CPU µs/call "
        "| dbus-daemon µs/call | other tenants | waited for quiet s | speed probe ms |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in range(len(calls["agent"]["latency"])):
        for side in ("agent", "floor"):
            lat = calls[side]["latency"][r]
            tp = calls[side]["throughput"][r]
            add(
                f"| {lat['round']} | {side} | {lat['p50_us']} | {lat['p90_us']} | "
                f"{lat['p99_us']} | {lat['max_us']:.0f} | {tp['calls_per_s']:,} | "
                f"{tp['server_cpu_us_per_call']} | {tp['dbus_daemon_cpu_us_per_call']} | "
                f"{lat['other_tenants_cores']:.2f} / {tp['other_tenants_cores']:.2f} | "
                f"{lat['quiet_wait_s']} | {lat['speed_probe_ms']} |"
            )
    for side in ("agent", "floor"):
        s = calls[side]["summary"]
        add(
            f"| median | {side} | {s['p50_us']} | | {s['p99_us']} | | {s['calls_per_s']:,.0f} | "
            f"{s['server_cpu_us_per_call']} | {s['dbus_daemon_cpu_us_per_call']} | | | |"
        )

    cli = results["cli"]
    add("\n### (b) One-shot CLI wall time (spawn to exit, ms)\n")
    add(
        f"Interleaved runs after one unrecorded run each; other tenants "
        f"{cli['main']['other_tenants_cores']:.2f} cores (main) / "
        f"{cli['breakdown']['other_tenants_cores']:.2f} (breakdown) / "
        f"{cli['imports']['other_tenants_cores']:.2f} (imports). The `python -S` rows put "
        "the same packages on PYTHONPATH so no site hook runs: interpreter plus exactly "
        "the named imports. Speed probe (median over the phase): "
        f"{_probe(cli['main']['quiet_waits'])} / {_probe(cli['breakdown']['quiet_waits'])} / "
        f"{_probe(cli['imports']['quiet_waits'])} ms.\n"
    )
    add("| command | runs | median | min | max |")
    add("|---|---|---|---|---|")
    for part in ("main", "breakdown", "imports"):
        for label, c in cli[part]["cells"].items():
            add(f"| `{label}` | {c['runs']} | {c['median_ms']} | {c['min_ms']} | {c['max_ms']} |")
    for key, what in (("importtime", "dev venv"), ("importtime_plain", "plain venv")):
        it = cli[key]
        add(
            f"\n`python -X importtime laisctl status` ({what}; median of {it['runs']}; "
            "importtime adds overhead of its own). Top level, cumulative ms: "
            + ", ".join(f"{n} {ms}" for n, ms in it["top_level_cumulative_ms"].items())
            + f" (all top-level {it['total_top_level_ms']}). Second level: "
            + ", ".join(f"{n} {ms}" for n, ms in it["second_level_cumulative_ms"].items())
            + "."
        )
    add("")
    st = results["startup"]
    add("### (c) Start-up and memory\n")
    add(
        f"Exec to `NameOwnerChanged` seen by a client connected before the spawn; "
        f"{len(st['starts']['agent'])} starts per side, alternating, after one warm-up start "
        f"each; other tenants {st['other_tenants_cores']:.2f} cores; speed probe "
        f"{_probe(st['quiet_waits'])} ms.\n"
    )
    add(
        "| side | name acquired ms, median (min-max) | RSS at name MiB | first call ms "
        "| RSS after first call MiB | USS after first call MiB |"
    )
    add("|---|---|---|---|---|---|")
    for side in ("agent", "floor"):
        s = st["summary"][side]
        add(
            f"| {side} | {s['name_ms']['median']} ({s['name_ms']['min']}-"
            f"{s['name_ms']['max']}) | {s['rss_at_name_mib']['median']} | "
            f"{s['first_call_ms']['median']} | {s['rss_after_first_call_mib']['median']} | "
            f"{s['uss_after_first_call_mib']['median']} |"
        )
    mem = results["memory"]
    add("\nMemory under load (fresh long-lived servers, calls with 50 in flight):\n")
    add(
        "| side | RSS at name | after first call | "
        + " | ".join(f"after {a['calls']:,} calls" for a in mem["agent"]["after"])
        + " | USS after first call → last | server CPU µs/call | other tenants |"
    )
    add("|---|---|---|" + "---|" * len(mem["agent"]["after"]) + "---|---|---|")
    for side in ("agent", "floor"):
        m = mem[side]
        add(
            f"| {side} | {m['start']['rss_at_name_mib']} | "
            f"{m['start']['rss_after_first_call_mib']} | "
            + " | ".join(str(a["rss_mib"]) for a in m["after"])
            + f" | {m['start']['uss_after_first_call_mib']} → {m['after'][-1]['uss_mib']} | "
            + " / ".join(str(c["server_cpu_us_per_call"]) for c in m["cells"])
            + " | "
            + " / ".join(f"{c['other_tenants_cores']:.2f}" for c in m["cells"])
            + " |"
        )

    prof = results.get("profile")
    if prof:
        add("\n### Profile under load (cProfile, main thread, start-up excluded)\n")
        add(
            "| side | requests | Python-level calls per request | asyncio tasks per request "
            "| event-loop callbacks per request | profiled µs per request (without epoll wait) |"
        )
        add("|---|---|---|---|---|---|")
        for side in ("agent", "floor"):
            p = prof[side]
            add(
                f"| {side} | {p['requests']:,} | {p['python_calls_per_request']} | "
                f"{p['tasks_per_request']} | {p['loop_callbacks_per_request']} | "
                f"{p['profiled_us_per_request']} |"
            )
        add("\nAgent, top functions by own time (µs per request, under the profiler):\n")
        add("| function | calls per request | own µs | cumulative µs |")
        add("|---|---|---|---|")
        for row in prof["agent"]["top_tottime"][:12]:
            add(
                f"| `{row['function']}` | {row['ncalls'] / prof['agent']['requests']:.2f} | "
                f"{row['tottime_us_per_request']} | {row['cumtime_us_per_request']} |"
            )
    add(f"\nRaw data: `{results['json']}`.")
    return "\n".join(out)


# ---------------------------------------------------------------------------


def _first_line(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return (done.stdout or done.stderr).splitlines()[0].strip()


def environment() -> dict[str, Any]:
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    os_name = "unknown"
    with contextlib.suppress(OSError), open("/etc/os-release") as osr:
        for line in osr:
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    return {
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "mem_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "os": os_name,
        "python": platform.python_version(),
        "python_path": PYTHON,
        "dbus_fast": importlib.metadata.version("dbus-fast"),
        "dbus_python": importlib.metadata.version("dbus-python"),
        "click": importlib.metadata.version("click"),
        "dbus_daemon": _first_line(["dbus-daemon", "--version"]),
        "busctl": _first_line(["busctl", "--version"]),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "speed_probe_ms": speed_probe(),
    }


async def run_async(
    agent: Side, floor: Side, plan: Plan, tmp: Path, *, profile: bool
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    agent.watch = await NameWatch(agent.address).open()
    floor.watch = await NameWatch(floor.address).open()
    try:
        print("startup ...", file=sys.stderr)
        results["startup"] = await phase_startup(agent, floor, plan, tmp / "payload.json")
        print("memory ...", file=sys.stderr)
        results["memory"] = await phase_memory(agent, floor, plan)
        print("latency and throughput ...", file=sys.stderr)
        results["calls"] = await phase_calls(agent, floor, plan)
        await floor.stop()
        print("cli ...", file=sys.stderr)
        # The CLI phase is synchronous; the agent keeps serving in its own process.
        results["cli"] = await asyncio.to_thread(phase_cli, agent, plan, tmp)
        await agent.stop()
        if profile:
            print("profile ...", file=sys.stderr)
            results["profile"] = {
                side.label: await phase_profile(side, plan, tmp / f"{side.label}.pstats")
                for side in (agent, floor)
            }
    finally:
        for side in (agent, floor):
            with contextlib.suppress(Exception):
                await side.stop()
        await agent.watch.close()
        await floor.watch.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile phase")
    parser.add_argument(
        "--quiet-cores",
        type=float,
        default=None,
        help="before each cell, wait until other tenants use less CPU than this (cores)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="longest wait for quiet before each cell, seconds (then measure anyway)",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=BENCH / "results", help="where the JSON goes"
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/run.py: run as root (the agent owns its name only as root)", file=sys.stderr)
        return 2
    for tool in ("dbus-daemon", "busctl"):
        if shutil.which(tool) is None:
            print(f"bench/run.py: {tool} not found", file=sys.stderr)
            return 2
    plan = Plan.quick() if args.quick else Plan()
    if args.quiet_cores is not None:
        plan = dataclasses.replace(plan, quiet_cores=args.quiet_cores)
    if args.quiet_wait is not None:
        plan = dataclasses.replace(plan, quiet_wait_s=args.quiet_wait)
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    tmp = Path(tempfile.mkdtemp(prefix="lais-bench-"))
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
            [PYTHON, "-m", "lais_agent", "--bus", agent_bus.address, "--no-udev"],
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
        results: dict[str, Any] = {
            "started": started.isoformat(),
            "mode": "quick" if args.quick else "full",
            "plan": dataclasses.asdict(plan),
            "targets": TARGETS,
            "environment": environment(),
        }
        results.update(asyncio.run(run_async(agent, floor, plan, tmp, profile=not args.no_profile)))
        results["summary"] = summary_rows(results)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        path = args.results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        try:
            results["json"] = str(path.relative_to(REPO))
        except ValueError:
            results["json"] = str(path)
        path.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(markdown(results))
        return 0
    finally:
        stop_owned()
        for stopper in reversed(stoppers):
            try:
                stopper()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                print(f"bench/run.py: cleanup: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

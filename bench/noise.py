"""Noise accounting: the CPU other tenants of the machine use during a cell, how fast
this vCPU runs right now, and waiting for the machine to go quiet before measuring."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.plan import Plan

TICK = os.sysconf("SC_CLK_TCK")


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

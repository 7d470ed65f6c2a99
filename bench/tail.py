"""Where the slowest calls spend their time: GetStatus latency split by process and state.

Agent and floor calls are interleaved one by one (agent, floor, floor, agent, ...) on two
connections, so both sides see the same minutes of the machine. Around every call the
client reads ``/proc/PID/schedstat`` of the server, its dbus-daemon and itself: time on a
CPU and time runnable but waiting for one (the run queue), in nanoseconds, from the
kernel's scheduler accounting. The reads happen outside the timed span of the call.

For the median call and for the slowest 1% of each side the report gives the mean of
each part; what the three processes do not account for is time when none of them was
running or runnable (the wire, wake-ups, the host).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from dbus_fast.aio import MessageBus

from bench.calls import percentile
from bench.client import check_reply, close, connect, status_message
from bench.noise import Meter, speed_probe
from bench.plan import Plan
from bench.sides import Side

PARTS = ("server", "dbus_daemon", "client")


class SchedStat:
    """Keeps /proc/PID/schedstat open; ``read()`` returns (on-CPU ns, run-queue ns)."""

    def __init__(self, pid: int) -> None:
        self._fd = os.open(f"/proc/{pid}/schedstat", os.O_RDONLY)

    def read(self) -> tuple[int, int]:
        run, wait, _slices = os.pread(self._fd, 128, 0).split()
        return int(run), int(wait)

    def close(self) -> None:
        os.close(self._fd)


def _mean_parts(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.fmean(r[k] for r in rows), 1) for k in rows[0]}


def summarize(rows: Sequence[dict[str, float]]) -> dict[str, Any]:
    """Percentiles, and the parts of the median call and of the slowest 1%."""
    lat = sorted(r["latency_us"] for r in rows)
    by_latency = sorted(rows, key=lambda r: r["latency_us"])
    n = len(rows)
    top = by_latency[n - max(1, n // 100) :]
    middle = by_latency[n // 2 - n // 20 : n // 2 + n // 20 + 1]  # 45th-55th percentile
    return {
        "calls": n,
        "p50_us": round(percentile(lat, 50), 1),
        "p90_us": round(percentile(lat, 90), 1),
        "p99_us": round(percentile(lat, 99), 1),
        "max_us": round(lat[-1], 1),
        "median_calls": _mean_parts(middle),
        "slowest_1pct": _mean_parts(top),
    }


async def _one(bus: MessageBus, stats: dict[str, SchedStat]) -> dict[str, float]:
    before = {k: s.read() for k, s in stats.items()}
    start = time.perf_counter_ns()
    reply = await bus.call(status_message())
    took = time.perf_counter_ns() - start
    after = {k: s.read() for k, s in stats.items()}
    check_reply(reply)
    row = {"latency_us": took / 1000}
    for k in stats:
        row[f"{k}_cpu_us"] = (after[k][0] - before[k][0]) / 1000
        row[f"{k}_runq_us"] = (after[k][1] - before[k][1]) / 1000
    accounted = sum(row[f"{k}_cpu_us"] + row[f"{k}_runq_us"] for k in stats)
    row["unaccounted_us"] = row["latency_us"] - accounted
    return row


async def tail_cell(agent: Side, floor: Side, plan: Plan) -> dict[str, Any]:
    """``plan.latency_calls`` calls per side, interleaved, after ``plan.warmup`` each."""
    assert agent.proc is not None
    assert floor.proc is not None
    sides = (agent, floor)
    buses = {s.label: await connect(s.address) for s in sides}
    stats = {
        s.label: {
            "server": SchedStat(s.proc.pid),  # type: ignore[union-attr]
            "dbus_daemon": SchedStat(s.daemon_pid),
            "client": SchedStat(os.getpid()),
        }
        for s in sides
    }
    rows: dict[str, list[dict[str, float]]] = {s.label: [] for s in sides}
    try:
        for _ in range(plan.warmup):
            for s in sides:
                check_reply(await buses[s.label].call(status_message()))
        with Meter() as meter:
            for i in range(plan.latency_calls):
                for s in sides if i % 2 == 0 else reversed(sides):
                    rows[s.label].append(await _one(buses[s.label], stats[s.label]))
    finally:
        for s in sides:
            await close(buses[s.label])
            for st in stats[s.label].values():
                st.close()
    out: dict[str, Any] = {s.label: summarize(rows[s.label]) for s in sides}
    a, f = out[agent.label], out[floor.label]
    out["p50_ratio"] = round(a["p50_us"] / f["p50_us"], 2)
    out["p99_ratio"] = round(a["p99_us"] / f["p99_us"], 2)
    out["other_tenants_cores"] = meter.result["other_tenants_cores"]
    out["wall_s"] = meter.result["wall_s"]
    out["speed_probe_ms"] = speed_probe()
    return out

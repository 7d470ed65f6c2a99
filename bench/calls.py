"""(a) ``GetStatus`` call latency (sequential) and throughput (calls in flight), per side."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bench.client import burst, check_reply, close, connect, status_message
from bench.noise import Meter, wait_quiet
from bench.plan import Plan
from bench.rounds import alternate, median_of
from bench.sides import Side


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


async def latency_cell(address: str, plan: Plan) -> dict[str, Any]:
    bus = await connect(address)
    try:
        for _ in range(plan.warmup):
            check_reply(await bus.call(status_message()))
        samples: list[float] = []
        with Meter() as meter:
            for _ in range(plan.latency_calls):
                start = time.perf_counter_ns()
                reply = await bus.call(status_message())
                samples.append((time.perf_counter_ns() - start) / 1000)
                check_reply(reply)
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
            check_reply(await bus.call(status_message()))
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

"""GetStatus latency with the server's garbage collections on the same clock.

Each server runs under bench/gc_watched.py, which records every collection
(generation, start, stop on CLOCK_MONOTONIC) while the latency cell runs. Every call's
start and stop are taken on the same clock here, so the report can say how many of the
slowest 1% of calls overlapped a collection in the server, and what p99 is without
them. Variants: the agent as it starts, the agent with its catalog in use (as the agent
of the latency cells is), the floor; rounds rotate their order. (The wrapper's
``--freeze`` applies ``gc.freeze()`` after start-up, to try by hand.)
"""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.calls import percentile
from bench.client import check_reply, close, connect, status_message
from bench.noise import Meter, wait_quiet
from bench.paths import BENCH, PYTHON
from bench.plan import Plan
from bench.sides import Side


async def _wait_file(path: Path) -> dict[str, Any]:
    for _ in range(500):
        if path.exists():
            doc: dict[str, Any] = json.loads(path.read_text())
            path.unlink()
            return doc
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{path} did not appear")


def _overlaps(call: tuple[int, int], events: Sequence[tuple[int, int]]) -> bool:
    a, b = call
    return any(s < b and e > a for s, e in events)


def analyse(calls: Sequence[tuple[int, int]], doc: dict[str, Any]) -> dict[str, Any]:
    """Latency percentiles, collections per 1,000 calls by generation, and how the
    slowest 1% of calls line up with collections."""
    n = len(calls)
    lat = sorted((b - a) / 1000 for a, b in calls)
    events = doc["events"]
    spans = [(e["start_ns"], e["stop_ns"]) for e in events]
    by_gen: dict[str, Any] = {}
    for gen in range(3):
        pauses = [(e["stop_ns"] - e["start_ns"]) / 1000 for e in events if e["generation"] == gen]
        by_gen[str(gen)] = {
            "collections": len(pauses),
            "per_1000_calls": round(len(pauses) / n * 1000, 2),
            "mean_pause_us": round(statistics.fmean(pauses), 1) if pauses else 0.0,
            "max_pause_us": round(max(pauses), 1) if pauses else 0.0,
        }
    hit = [_overlaps(c, spans) for c in calls]
    order = sorted(range(n), key=lambda i: calls[i][1] - calls[i][0], reverse=True)
    top = order[: max(1, n // 100)]
    clean = sorted((calls[i][1] - calls[i][0]) / 1000 for i in range(n) if not hit[i])
    return {
        "calls": n,
        "p50_us": round(percentile(lat, 50), 1),
        "p99_us": round(percentile(lat, 99), 1),
        "max_us": round(lat[-1], 1),
        "calls_overlapping_a_collection": sum(hit),
        "slowest_1pct": len(top),
        "slowest_1pct_overlapping_a_collection": sum(hit[i] for i in top),
        "p99_us_without_overlapping_calls": round(percentile(clean, 99), 1) if clean else 0.0,
        "collections": by_gen,
        "tracked_per_generation": doc["tracked_per_generation"],
        "frozen": doc["frozen"],
    }


async def gc_cell(
    side: Side, plan: Plan, out: Path, *, freeze: bool, catalog: bool
) -> dict[str, Any]:
    argv = [PYTHON, str(BENCH / "gc_watched.py"), str(out)]
    argv += ["--freeze"] if freeze else []
    await side.start([*argv, *side.argv[1:]])
    assert side.proc is not None
    try:
        if catalog:
            await side.catalog_in_use()
        bus = await connect(side.address)
        try:
            for _ in range(plan.warmup):
                check_reply(await bus.call(status_message()))
            side.proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(0.3)
            calls: list[tuple[int, int]] = []
            with Meter() as meter:
                for _ in range(plan.latency_calls):
                    start = time.perf_counter_ns()
                    reply = await bus.call(status_message())
                    calls.append((start, time.perf_counter_ns()))
                    check_reply(reply)
            side.proc.send_signal(signal.SIGUSR2)
            doc = await _wait_file(out)
        finally:
            await close(bus)
    finally:
        await side.stop()
    return {**analyse(calls, doc), "other_tenants_cores": meter.result["other_tenants_cores"]}


# label, gc.freeze() after start-up, catalog in use (one ListModules first). The
# wrapper's --freeze is there to try (add ("agent+freeze", True, False)); with no
# collection to avoid it changes nothing, so a run does not spend starts on it.
VARIANTS = (
    ("agent", False, False),
    ("agent+catalog", False, True),
    ("floor", False, False),
)


async def phase_gc(agent: Side, floor: Side, plan: Plan, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {label: [] for label, _, _ in VARIANTS}
    for r in range(plan.gc_rounds):
        shift = r % len(VARIANTS)
        for label, freeze, catalog in VARIANTS[shift:] + VARIANTS[:shift]:
            side = floor if label == "floor" else agent
            quiet = await asyncio.to_thread(wait_quiet, plan)
            cell = await gc_cell(
                side, plan, tmp / f"gc-{label}.json", freeze=freeze, catalog=catalog
            )
            out[label].append({"round": r, **quiet, **cell})
            g = cell["collections"]
            print(
                f"  gc round {r} {label}: p50 {cell['p50_us']} p99 {cell['p99_us']} us; "
                f"collections gen0/1/2 {g['0']['collections']}/{g['1']['collections']}/"
                f"{g['2']['collections']}; slowest 1% overlapping "
                f"{cell['slowest_1pct_overlapping_a_collection']}/{cell['slowest_1pct']}",
                file=sys.stderr,
            )
    return out

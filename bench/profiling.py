"""Profiling: cProfile a running server (via bench/profiled.py) over a burst of calls."""

from __future__ import annotations

import asyncio
import pstats
import re
import signal
from pathlib import Path
from typing import Any

from bench.client import burst, close, connect
from bench.paths import BENCH, PYTHON, REPO
from bench.plan import Plan
from bench.sides import Side


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

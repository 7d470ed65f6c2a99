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

Two looks at the latency tail follow (a): agent and floor calls interleaved one by one,
each split into CPU and run-queue time of the three processes (bench/tail.py), and the
servers' garbage collections during a latency cell (bench/gc_cell.py); and the
instructions each server executes per call, under callgrind (bench/instructions.py).

Every cell also records the CPU that other tenants of the machine used meanwhile:
all busy CPU from /proc/stat minus the CPU of this process tree. The agent runs on a
private system-like dbus-daemon with python-dbusmock's polkitd, exactly as the bus
tests run it (tests/bus/harness.py). The client runs as root, so the agent's gate lets
it through after one cached GetConnectionUnixUser lookup, without asking polkit.

    $(scripts/dev-env.sh)/bin/python bench/run.py [--quick] [--no-profile] [--publish]

Prints a Markdown results section; writes raw data to bench/results/<run>.json and, with
--publish, the compact summary the page's tables come from to bench/published/<run>.json
(``python bench/report.py bench/published/<run>.json`` prints the section again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

if str(Path(__file__).resolve().parents[1]) not in sys.path:
    # for bench.* and tests.bus.harness; lais_agent is installed editable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.calls import phase_calls
from bench.cli_timing import phase_cli
from bench.environment import environment
from bench.gc_cell import phase_gc
from bench.instructions import phase_instructions
from bench.memory import phase_memory
from bench.name_watch import NameWatch
from bench.noise import wait_quiet
from bench.paths import BENCH, REPO
from bench.plan import Plan
from bench.profiling import phase_profile
from bench.report import section
from bench.sides import Side, open_sides
from bench.startup import phase_startup
from bench.summary import dumps, publishable
from bench.tail import tail_cell
from bench.targets import TARGETS, summary_rows


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
        print("tail: agent and floor interleaved ...", file=sys.stderr)
        results["tail"] = {"cells": []}
        for r in range(plan.rounds):
            await asyncio.to_thread(wait_quiet, plan)
            cell = await tail_cell(agent, floor, plan)
            results["tail"]["cells"].append(cell)
            print(
                f"  round {r}: p50 {cell['agent']['p50_us']}/{cell['floor']['p50_us']} us "
                f"p99 {cell['agent']['p99_us']}/{cell['floor']['p99_us']} us (agent/floor; "
                f"other tenants {cell['other_tenants_cores']})",
                file=sys.stderr,
            )
        await floor.stop()
        print("cli ...", file=sys.stderr)
        # The CLI phase is synchronous; the agent keeps serving in its own process.
        results["cli"] = await asyncio.to_thread(phase_cli, agent, plan, tmp)
        await agent.stop()
        print("garbage collections ...", file=sys.stderr)
        results["gc"] = await phase_gc(agent, floor, plan, tmp)
        print("instructions per call (callgrind) ...", file=sys.stderr)
        results["instructions"] = await phase_instructions(agent, floor, plan, tmp)
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
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also write the summary the page cites to bench/published/<run>.json",
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
    try:
        with open_sides(tmp) as (agent, floor):
            run = started.strftime("%Y%m%dT%H%M%SZ")
            results: dict[str, Any] = {
                "run": run,
                "started": started.isoformat(),
                "mode": "quick" if args.quick else "full",
                "plan": dataclasses.asdict(plan),
                "targets": TARGETS,
                "environment": environment(),
            }
            results.update(
                asyncio.run(run_async(agent, floor, plan, tmp, profile=not args.no_profile))
            )
            results["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
            results["summary"] = summary_rows(results)
            args.results_dir.mkdir(parents=True, exist_ok=True)
            path = args.results_dir / f"{run}.json"
            try:
                results["json"] = str(path.relative_to(REPO))
            except ValueError:
                results["json"] = str(path)
            path.write_text(json.dumps(results, indent=2, default=str) + "\n")
            summary = publishable(results)
            if args.publish:
                published = BENCH / "published" / f"{run}.json"
                published.parent.mkdir(exist_ok=True)
                published.write_text(dumps(summary) + "\n")
                print(f"published {published.relative_to(REPO)}", file=sys.stderr)
            print(section(summary))
            return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

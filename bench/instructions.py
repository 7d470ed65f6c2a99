"""Instructions per GetStatus in the server: a count that other tenants cannot move.

Each server runs under ``valgrind --tool=callgrind`` with instrumentation off; after
the warm-up calls ``callgrind_control -i on`` switches it on for ``plan.instr_calls``
sequential calls and off again. The user-space instructions (Ir) executed in between,
divided by the calls, are the server's work per call, kernel excluded: the same on a
busy machine as on a quiet one, so the agent's cost above the floor shows without noise.
Skipped (empty result) when valgrind is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.client import check_reply, close, connect, status_message
from bench.plan import Plan
from bench.sides import Side

START_TIMEOUT_S = 180.0  # imports under valgrind


def _total_ir(path: Path) -> int:
    total = 0
    for line in path.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            total = int(line.split()[1])
    return total


async def instructions_cell(side: Side, plan: Plan, out: Path, *, catalog: bool) -> float:
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        *side.argv,
    ]
    await side.start(argv, timeout=START_TIMEOUT_S)
    assert side.proc is not None
    pid = str(side.proc.pid)
    try:
        if catalog:
            await side.catalog_in_use()
        bus = await connect(side.address)
        try:
            for _ in range(plan.warmup):
                check_reply(await bus.call(status_message()))
            subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
            for _ in range(plan.instr_calls):
                check_reply(await bus.call(status_message()))
            subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
        finally:
            await close(bus)
    finally:
        await side.stop()  # callgrind writes its file as the server exits
    return round(_total_ir(out) / plan.instr_calls)


async def phase_instructions(agent: Side, floor: Side, plan: Plan, tmp: Path) -> dict[str, Any]:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("  valgrind not installed: no instruction counts", file=sys.stderr)
        return {}
    version = subprocess.run(
        ["valgrind", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    per_call = {
        "floor": await instructions_cell(floor, plan, tmp / "cg-floor.out", catalog=False),
        "agent": await instructions_cell(agent, plan, tmp / "cg-agent.out", catalog=False),
        "agent+catalog": await instructions_cell(
            agent, plan, tmp / "cg-agent-catalog.out", catalog=True
        ),
    }
    print(f"  instructions per call: {per_call}", file=sys.stderr)
    return {"valgrind": version, "calls": plan.instr_calls, "ir_per_call": per_call}

"""(c) Memory under load: long-lived servers' RSS/USS and CPU per call as calls pile up."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.client import burst, close, connect
from bench.noise import Meter, wait_quiet
from bench.plan import Plan
from bench.rounds import alternate
from bench.sides import Side


async def phase_memory(agent: Side, floor: Side, plan: Plan) -> dict[str, Any]:
    """Fresh long-lived servers; RSS at name, after the first call, idle a second later,
    after 50k and 100k calls; then, for the agent, with its catalog in use."""
    out: dict[str, Any] = {}
    for side in (agent, floor):
        record = await side.start()
        record.pop("reply")
        await asyncio.sleep(1.0)  # whatever start-up work there is has finished
        out[side.label] = {"start": record, "idle": side.memory(), "after": [], "cells": []}
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
    took = await agent.catalog_in_use()
    out[agent.label]["catalog_in_use"] = {"list_modules_s": took, **agent.memory()}
    return out

"""(c) Start-up: exec to name acquired, RSS at the name and after the first call; the
agent's reply captured on the way as the floor's payload."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dbus_fast import Variant

from bench.errors import BenchError
from bench.noise import Meter, wait_quiet
from bench.plan import Plan
from bench.rounds import alternate, median_of
from bench.sides import Side


def variant_to_json(value: Variant) -> list[Any]:
    """The inverse of floor_server.variant_from_json."""
    if value.signature == "a{sv}":
        return [value.signature, {k: variant_to_json(v) for k, v in value.value.items()}]
    return [value.signature, value.value]


def shape(tree: Mapping[str, Variant]) -> dict[str, Any]:
    return {k: shape(v.value) if v.signature == "a{sv}" else v.signature for k, v in tree.items()}


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

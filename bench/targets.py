"""Targets and verdicts: the summary rows, each measured figure against its target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TARGETS = {
    "p50_us": 250.0,
    "p99_us": 1000.0,
    "calls_per_s": 8000.0,
    "laisctl_ms": 80.0,
    "idle_rss_mib": 40.0,
    "name_ms": 300.0,
}


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
    mem = results["memory"]
    rows = [
        ("GetStatus p50 (µs)", "p50_us", a["p50_us"], f["p50_us"], False),
        ("GetStatus p99 (µs)", "p99_us", a["p99_us"], f["p99_us"], False),
        ("GetStatus throughput, 50 in flight (calls/s)", "calls_per_s", a["calls_per_s"],
         f["calls_per_s"], True),
        ("`laisctl status` wall (packaged launcher), median (ms); floor = busctl", "laisctl_ms",
         cli["laisctl status"]["median_ms"], cli["busctl call GetStatus"]["median_ms"], False),
        ("Idle RSS, 1 s after the first GetStatus (MiB)", "idle_rss_mib",
         mem["agent"]["idle"]["rss_mib"], mem["floor"]["idle"]["rss_mib"], False),
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

"""The published summary of a run: what the page's tables print, and nothing else.

``bench/run.py --publish`` writes it to ``bench/published/<run>.json`` (committed) next
to the raw data in ``bench/results/`` (ignored); ``bench/report.py`` renders the page's
Markdown from it alone, and tests/unit/test_bench_report.py checks that the page says
what its summary says. Tables are kept as column lists and rows, one row a line, so two
runs diff by hand.

Standard library only: the unit test imports this without the benchmark's dependencies.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMAT = 1
MACHINE_KEYS = (
    "cpu_model",
    "cpus",
    "mem_gib",
    "kernel",
    "os",
    "python",
    "dbus_fast",
    "dbus_python",
    "click",
    "dbus_daemon",
    "busctl",
)


def _table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    return {"columns": list(columns), "rows": [list(r) for r in rows]}


def _spread(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def _probe(waits: Sequence[Mapping[str, float]]) -> float:
    return round(statistics.median(w["speed_probe_ms"] for w in waits), 2) if waits else 0.0


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def _cells_load(results: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """Other tenants' cores and speed probes over every measured cell of the run."""
    other: list[float] = []
    probes: list[float] = [results["environment"]["speed_probe_ms"]]

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if "other_tenants_cores" in node and "wall_s" in node:
                other.append(float(node["other_tenants_cores"]))
            if "speed_probe_ms" in node:
                probes.append(float(node["speed_probe_ms"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for key in ("startup", "memory", "calls", "tail", "gc", "cli"):
        walk(results.get(key))
    return other, probes


def publishable(results: Mapping[str, Any]) -> dict[str, Any]:
    """The compact summary of one run's raw results."""
    env = results["environment"]
    other, probes = _cells_load(results)
    out: dict[str, Any] = {
        "format": FORMAT,
        "run": results.get("run") or results["json"].rsplit("/", 1)[-1].removesuffix(".json"),
        "mode": results["mode"],
        "started": results["started"],
        "raw": results["json"],
        "machine": {k: env[k] for k in MACHINE_KEYS},
        "load": {
            "loadavg_start": env["loadavg"],
            "loadavg_end": results.get("loadavg_end", ""),
            "speed_probe_start_ms": env["speed_probe_ms"],
            "other_tenants_cores_per_cell": _spread(other),
            "speed_probe_ms_per_cell": _spread(probes),
            "quiet_cores": results["plan"]["quiet_cores"],
            "quiet_wait_s": results["plan"]["quiet_wait_s"],
        },
        "plan": dict(results["plan"]),
        "headline": _table(
            ("metric", "target", "higher_is_better", "measured", "floor", "ratio", "verdict"),
            (
                (
                    r["metric"],
                    r["target"],
                    r["higher_is_better"],
                    r["measured"],
                    r["floor"],
                    r["ratio_to_floor"],
                    r["verdict"],
                )
                for r in results["summary"]
            ),
        ),
    }
    out["calls"] = _calls(results["calls"])
    if "tail" in results:
        out["tail"] = _tail(results["tail"])
    if "gc" in results:
        out["gc"] = _gc(results["gc"])
    if results.get("instructions"):
        ins = results["instructions"]
        ir = ins["ir_per_call"]
        out["instructions"] = {
            "valgrind": ins["valgrind"],
            "calls": ins["calls"],
            "ir_per_call": ir,
            "ratio_to_floor": {k: _ratio(v, ir["floor"]) for k, v in ir.items()},
        }
    out["cli"] = _cli(results["cli"])
    out["startup"] = _startup(results["startup"])
    out["memory"] = _memory(results["memory"])
    if results.get("profile"):
        out["profile"] = _profile(results["profile"])
    return out


def _calls(calls: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for r in range(len(calls["agent"]["latency"])):
        for side in ("agent", "floor"):
            lat, tp = calls[side]["latency"][r], calls[side]["throughput"][r]
            rows.append(
                (
                    lat["round"],
                    side,
                    lat["p50_us"],
                    lat["p90_us"],
                    lat["p99_us"],
                    round(lat["max_us"]),
                    tp["calls_per_s"],
                    tp["server_cpu_us_per_call"],
                    tp["dbus_daemon_cpu_us_per_call"],
                    round(lat["other_tenants_cores"], 2),
                    round(tp["other_tenants_cores"], 2),
                    lat["quiet_wait_s"],
                    lat["speed_probe_ms"],
                )
            )
    a, f = calls["agent"]["summary"], calls["floor"]["summary"]
    keys = ("p50_us", "p99_us", "calls_per_s", "server_cpu_us_per_call")
    return {
        "rounds": _table(
            (
                "round",
                "side",
                "p50_us",
                "p90_us",
                "p99_us",
                "max_us",
                "calls_per_s",
                "server_cpu_us_per_call",
                "dbus_daemon_cpu_us_per_call",
                "other_tenants_latency",
                "other_tenants_throughput",
                "quiet_wait_s",
                "speed_probe_ms",
            ),
            rows,
        ),
        "median": {
            side: {
                "p50_us": s["p50_us"],
                "p99_us": s["p99_us"],
                "calls_per_s": round(s["calls_per_s"]),
                "server_cpu_us_per_call": s["server_cpu_us_per_call"],
                "dbus_daemon_cpu_us_per_call": s["dbus_daemon_cpu_us_per_call"],
            }
            for side, s in (("agent", a), ("floor", f))
        },
        "ratio_of_medians": {k: _ratio(a[k], f[k]) for k in keys},
        "ratio_per_round": {
            k: [
                _ratio(la[k], lf[k])
                for la, lf in zip(calls["agent"]["latency"], calls["floor"]["latency"], strict=True)
            ]
            for k in ("p50_us", "p99_us")
        },
    }


TAIL_PARTS = (
    "server_cpu_us",
    "server_runq_us",
    "dbus_daemon_cpu_us",
    "dbus_daemon_runq_us",
    "client_cpu_us",
    "client_runq_us",
)


def _tail(tail: Mapping[str, Any]) -> dict[str, Any]:
    cells = tail["cells"]
    rows = []
    for r, c in enumerate(cells):
        for side in ("agent", "floor"):
            s = c[side]
            rows.append(
                (
                    r,
                    side,
                    s["p50_us"],
                    s["p99_us"],
                    c["p50_ratio"] if side == "agent" else None,
                    c["p99_ratio"] if side == "agent" else None,
                    round(c["other_tenants_cores"], 2),
                    c["speed_probe_ms"],
                )
            )
    parts = []
    for side in ("agent", "floor"):
        for which in ("median_calls", "slowest_1pct"):
            means = [c[side][which] for c in cells]
            parts.append(
                (
                    side,
                    which,
                    round(statistics.median(m["latency_us"] for m in means), 1),
                    *(round(statistics.median(m[p] for m in means), 1) for p in TAIL_PARTS),
                )
            )
    return {
        "calls_per_side": cells[0]["agent"]["calls"],
        "rounds": _table(
            (
                "round",
                "side",
                "p50_us",
                "p99_us",
                "p50_ratio",
                "p99_ratio",
                "other_tenants",
                "speed_probe_ms",
            ),
            rows,
        ),
        "median_ratio": {
            "p50": round(statistics.median(c["p50_ratio"] for c in cells), 2),
            "p99": round(statistics.median(c["p99_ratio"] for c in cells), 2),
        },
        "parts": _table(("side", "calls", "latency_us", *TAIL_PARTS), parts),
    }


def _gc(gc: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for label, cells in gc.items():
        for c in cells:
            g = c["collections"]
            rows.append(
                (
                    label,
                    c["round"],
                    c["calls"],
                    c["p50_us"],
                    c["p99_us"],
                    g["0"]["collections"],
                    g["1"]["collections"],
                    g["2"]["collections"],
                    c["slowest_1pct_overlapping_a_collection"],
                    sum(c["tracked_per_generation"]),
                    c["frozen"],
                    round(c["other_tenants_cores"], 2),
                )
            )
    return {
        "cells": _table(
            (
                "server",
                "round",
                "calls",
                "p50_us",
                "p99_us",
                "gen0",
                "gen1",
                "gen2",
                "slowest_1pct_in_a_collection",
                "tracked_objects",
                "frozen_objects",
                "other_tenants",
            ),
            rows,
        )
    }


def _cli(cli: Mapping[str, Any]) -> dict[str, Any]:
    rows = [
        (label, c["runs"], c["median_ms"], c["min_ms"], c["max_ms"])
        for part in ("main", "breakdown", "imports")
        for label, c in cli[part]["cells"].items()
    ]
    return {
        "other_tenants": [
            round(cli[p]["other_tenants_cores"], 2) for p in ("main", "breakdown", "imports")
        ],
        "speed_probe_ms": [_probe(cli[p]["quiet_waits"]) for p in ("main", "breakdown", "imports")],
        "cells": _table(("command", "runs", "median_ms", "min_ms", "max_ms"), rows),
        "laisctl_to_busctl": _ratio(
            cli["main"]["cells"]["laisctl status"]["median_ms"],
            cli["main"]["cells"]["busctl call GetStatus"]["median_ms"],
        ),
        "importtime": {
            key: {
                "runs": cli[key]["runs"],
                "top_level_cumulative_ms": cli[key]["top_level_cumulative_ms"],
                "total_top_level_ms": cli[key]["total_top_level_ms"],
                "second_level_cumulative_ms": cli[key]["second_level_cumulative_ms"],
            }
            for key in ("importtime", "importtime_plain")
        },
    }


def _startup(st: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for side in ("agent", "floor"):
        s = st["summary"][side]
        rows.append(
            (
                side,
                s["name_ms"]["median"],
                s["name_ms"]["min"],
                s["name_ms"]["max"],
                s["rss_at_name_mib"]["median"],
                s["first_call_ms"]["median"],
                s["rss_after_first_call_mib"]["median"],
                s["uss_after_first_call_mib"]["median"],
            )
        )
    return {
        "starts_per_side": len(st["starts"]["agent"]),
        "other_tenants": round(st["other_tenants_cores"], 2),
        "speed_probe_ms": _probe(st["quiet_waits"]),
        "sides": _table(
            (
                "side",
                "name_ms_median",
                "name_ms_min",
                "name_ms_max",
                "rss_at_name_mib",
                "first_call_ms",
                "rss_after_first_call_mib",
                "uss_after_first_call_mib",
            ),
            rows,
        ),
    }


def _memory(mem: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for side in ("agent", "floor"):
        m = mem[side]
        rows.append(
            (
                side,
                m["start"]["rss_at_name_mib"],
                m["start"]["rss_after_first_call_mib"],
                m["idle"]["rss_mib"],
                [a["rss_mib"] for a in m["after"]],
                m["start"]["uss_after_first_call_mib"],
                m["after"][-1]["uss_mib"],
                [c["server_cpu_us_per_call"] for c in m["cells"]],
                [round(c["other_tenants_cores"], 2) for c in m["cells"]],
            )
        )
    in_use = mem["agent"]["catalog_in_use"]
    return {
        "calls_after": [a["calls"] for a in mem["agent"]["after"]],
        "sides": _table(
            (
                "side",
                "rss_at_name",
                "rss_after_first_call",
                "rss_idle",
                "rss_after",
                "uss_after_first_call",
                "uss_last",
                "server_cpu_us_per_call",
                "other_tenants",
            ),
            rows,
        ),
        "catalog_in_use": {
            "list_modules_s": in_use["list_modules_s"],
            "rss_mib": in_use["rss_mib"],
            "uss_mib": in_use["uss_mib"],
        },
    }


def _profile(prof: Mapping[str, Any]) -> dict[str, Any]:
    sides = [
        (
            side,
            p["requests"],
            p["python_calls_per_request"],
            p["tasks_per_request"],
            p["loop_callbacks_per_request"],
            p["profiled_us_per_request"],
        )
        for side, p in prof.items()
    ]
    agent = prof["agent"]
    top = [
        (
            row["function"],
            round(row["ncalls"] / agent["requests"], 2),
            row["tottime_us_per_request"],
            row["cumtime_us_per_request"],
        )
        for row in agent["top_tottime"][:12]
    ]
    return {
        "sides": _table(
            (
                "side",
                "requests",
                "python_calls_per_request",
                "tasks_per_request",
                "loop_callbacks_per_request",
                "profiled_us_per_request",
            ),
            sides,
        ),
        "agent_top_tottime": _table(
            ("function", "calls_per_request", "own_us", "cumulative_us"), top
        ),
    }


def dumps(node: Any, indent: int = 0) -> str:
    """JSON with objects spread over lines and every list (a row) on one line."""
    pad = " " * (indent + 1)
    if isinstance(node, Mapping) and node:
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in node.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(node, list) and node and all(isinstance(v, list) for v in node):
        rows = [f"{pad}{json.dumps(v, ensure_ascii=False)}" for v in node]
        return "[\n" + ",\n".join(rows) + "\n" + " " * indent + "]"
    return json.dumps(node, ensure_ascii=False)

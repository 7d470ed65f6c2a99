"""The report: the results as the Markdown section the run prints."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

TIMES = "\N{MULTIPLICATION SIGN}"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _probe(waits: Sequence[Mapping[str, float]]) -> float:
    return round(statistics.median(w["speed_probe_ms"] for w in waits), 2) if waits else 0.0


def markdown(results: Mapping[str, Any]) -> str:
    env = results["environment"]
    out: list[str] = []
    add = out.append
    add(f"## Results {results['started']} ({results['mode']} run)\n")
    add(
        f"Machine: {env['cpu_model']}, {env['cpus']} CPUs, {env['mem_gib']} GiB, kernel "
        f"{env['kernel']}, {env['os']}; Python {env['python']} (`{env['python_path']}`), "
        f"dbus-fast {env['dbus_fast']}, dbus-python {env['dbus_python']}, "
        f"{env['dbus_daemon']}, {env['busctl']}. Load average at start {env['loadavg']}; "
        f"speed probe {env['speed_probe_ms']} ms (a fixed Python loop; lower is faster). "
        f"Caller uid 0: the agent's gate passes root after one cached "
        f"GetConnectionUnixUser lookup, without a polkit round trip.\n"
    )
    add("| metric | target | measured | floor | ratio to floor | verdict |")
    add("|---|---|---|---|---|---|")
    for row in results["summary"]:
        sign = "≥" if row["higher_is_better"] else "≤"
        add(
            f"| {row['metric']} | {sign} {_fmt(row['target'])} | {_fmt(row['measured'])} | "
            f"{_fmt(row['floor'])} | {row['ratio_to_floor']}{TIMES} | {row['verdict']} |"
        )

    calls = results["calls"]
    add("\n### (a) GetStatus from a dbus-fast asyncio client (raw Message + bus.call)\n")
    add(
        "Latency: sequential calls after warm-up; throughput: 50 calls in flight. One row "
        "per round; rounds alternate agent/floor. CPU µs/call measured during the "
        "throughput cell; other tenants in cores (latency cell / throughput cell). Before "
        f"each pair of cells the run waited until other tenants used < "
        f"{results['plan']['quiet_cores']} cores (at most {results['plan']['quiet_wait_s']:.0f} s)."
        "\n"
    )
    add(
        "| round | side | p50 µs | p90 µs | p99 µs | max µs | calls/s | server CPU µs/call "
        "| dbus-daemon µs/call | other tenants | waited for quiet s | speed probe ms |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in range(len(calls["agent"]["latency"])):
        for side in ("agent", "floor"):
            lat = calls[side]["latency"][r]
            tp = calls[side]["throughput"][r]
            add(
                f"| {lat['round']} | {side} | {lat['p50_us']} | {lat['p90_us']} | "
                f"{lat['p99_us']} | {lat['max_us']:.0f} | {tp['calls_per_s']:,} | "
                f"{tp['server_cpu_us_per_call']} | {tp['dbus_daemon_cpu_us_per_call']} | "
                f"{lat['other_tenants_cores']:.2f} / {tp['other_tenants_cores']:.2f} | "
                f"{lat['quiet_wait_s']} | {lat['speed_probe_ms']} |"
            )
    for side in ("agent", "floor"):
        s = calls[side]["summary"]
        add(
            f"| median | {side} | {s['p50_us']} | | {s['p99_us']} | | {s['calls_per_s']:,.0f} | "
            f"{s['server_cpu_us_per_call']} | {s['dbus_daemon_cpu_us_per_call']} | | | |"
        )

    cli = results["cli"]
    add("\n### (b) One-shot CLI wall time (spawn to exit, ms)\n")
    add(
        f"Interleaved runs after one unrecorded run each; other tenants "
        f"{cli['main']['other_tenants_cores']:.2f} cores (main) / "
        f"{cli['breakdown']['other_tenants_cores']:.2f} (breakdown) / "
        f"{cli['imports']['other_tenants_cores']:.2f} (imports). The `python -S` rows put "
        "the same packages on PYTHONPATH so no site hook runs: interpreter plus exactly "
        "the named imports. Speed probe (median over the phase): "
        f"{_probe(cli['main']['quiet_waits'])} / {_probe(cli['breakdown']['quiet_waits'])} / "
        f"{_probe(cli['imports']['quiet_waits'])} ms.\n"
    )
    add("| command | runs | median | min | max |")
    add("|---|---|---|---|---|")
    for part in ("main", "breakdown", "imports"):
        for label, c in cli[part]["cells"].items():
            add(f"| `{label}` | {c['runs']} | {c['median_ms']} | {c['min_ms']} | {c['max_ms']} |")
    for key, what in (("importtime", "dev venv"), ("importtime_plain", "plain venv")):
        it = cli[key]
        add(
            f"\n`python -X importtime laisctl status` ({what}; median of {it['runs']}; "
            "importtime adds overhead of its own). Top level, cumulative ms: "
            + ", ".join(f"{n} {ms}" for n, ms in it["top_level_cumulative_ms"].items())
            + f" (all top-level {it['total_top_level_ms']}). Second level: "
            + ", ".join(f"{n} {ms}" for n, ms in it["second_level_cumulative_ms"].items())
            + "."
        )
    add("")
    st = results["startup"]
    add("### (c) Start-up and memory\n")
    add(
        f"Exec to `NameOwnerChanged` seen by a client connected before the spawn; "
        f"{len(st['starts']['agent'])} starts per side, alternating, after one warm-up start "
        f"each; other tenants {st['other_tenants_cores']:.2f} cores; speed probe "
        f"{_probe(st['quiet_waits'])} ms.\n"
    )
    add(
        "| side | name acquired ms, median (min-max) | RSS at name MiB | first call ms "
        "| RSS after first call MiB | USS after first call MiB |"
    )
    add("|---|---|---|---|---|---|")
    for side in ("agent", "floor"):
        s = st["summary"][side]
        add(
            f"| {side} | {s['name_ms']['median']} ({s['name_ms']['min']}-"
            f"{s['name_ms']['max']}) | {s['rss_at_name_mib']['median']} | "
            f"{s['first_call_ms']['median']} | {s['rss_after_first_call_mib']['median']} | "
            f"{s['uss_after_first_call_mib']['median']} |"
        )
    mem = results["memory"]
    add("\nMemory under load (fresh long-lived servers, calls with 50 in flight):\n")
    add(
        "| side | RSS at name | after first call | idle 1 s later | "
        + " | ".join(f"after {a['calls']:,} calls" for a in mem["agent"]["after"])
        + " | USS after first call → last | server CPU µs/call | other tenants |"
    )
    add("|---|---|---|---|" + "---|" * len(mem["agent"]["after"]) + "---|---|---|")
    for side in ("agent", "floor"):
        m = mem[side]
        add(
            f"| {side} | {m['start']['rss_at_name_mib']} | "
            f"{m['start']['rss_after_first_call_mib']} | "
            f"{m['idle']['rss_mib']} | "
            + " | ".join(str(a["rss_mib"]) for a in m["after"])
            + f" | {m['start']['uss_after_first_call_mib']} → {m['after'][-1]['uss_mib']} | "
            + " / ".join(str(c["server_cpu_us_per_call"]) for c in m["cells"])
            + " | "
            + " / ".join(f"{c['other_tenants_cores']:.2f}" for c in m["cells"])
            + " |"
        )

    in_use = mem["agent"]["catalog_in_use"]
    add(
        f"\nAgent with its catalog in use (after one `ListModules`, {in_use['list_modules_s']} s: "
        f"pydantic, the policies and 31 manifests loaded, Module objects exported): RSS "
        f"{in_use['rss_mib']} MiB, USS {in_use['uss_mib']} MiB (no target; see the notes).\n"
    )

    prof = results.get("profile")
    if prof:
        add("\n### Profile under load (cProfile, main thread, start-up excluded)\n")
        add(
            "| side | requests | Python-level calls per request | asyncio tasks per request "
            "| event-loop callbacks per request | profiled µs per request (without epoll wait) |"
        )
        add("|---|---|---|---|---|---|")
        for side in ("agent", "floor"):
            p = prof[side]
            add(
                f"| {side} | {p['requests']:,} | {p['python_calls_per_request']} | "
                f"{p['tasks_per_request']} | {p['loop_callbacks_per_request']} | "
                f"{p['profiled_us_per_request']} |"
            )
        add("\nAgent, top functions by own time (µs per request, under the profiler):\n")
        add("| function | calls per request | own µs | cumulative µs |")
        add("|---|---|---|---|")
        for row in prof["agent"]["top_tottime"][:12]:
            add(
                f"| `{row['function']}` | {row['ncalls'] / prof['agent']['requests']:.2f} | "
                f"{row['tottime_us_per_request']} | {row['cumtime_us_per_request']} |"
            )
    add(f"\nRaw data: `{results['json']}`.")
    return "\n".join(out)

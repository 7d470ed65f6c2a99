"""The report: a run's published summary as the Markdown section of docs/benchmarks.md.

    python bench/report.py bench/published/<run>.json     # the page's section, again
    python bench/report.py bench/results/<run>.json       # a raw results file works too

Everything printed comes from the summary (bench/summary.py), so the section can be
regenerated from the committed file alone; tests/unit/test_bench_report.py checks that
the page holds exactly this text between its ``generated`` markers.
Standard library only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.summary import publishable

TIMES = "\N{MULTIPLICATION SIGN}"
BEGIN = "<!-- generated: python bench/report.py {path} -->"
END = "<!-- end of generated section -->"


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _x(value: float | None) -> str:
    return "" if value is None else f"{value}{TIMES}"


def _rows(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def _md(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def published_path(summary: Mapping[str, Any]) -> str:
    return f"bench/published/{summary['run']}.json"


def markdown(summary: Mapping[str, Any]) -> str:
    """The results section, with a line before each table naming the run it comes from."""
    m, load, run = summary["machine"], summary["load"], summary["run"]
    src = f"Run `{run}`, `{published_path(summary)}`"
    out: list[str] = []
    add = out.append
    add(f"### Run {run} ({summary['mode']} mode)\n")
    cells = load["other_tenants_cores_per_cell"]
    probes = load["speed_probe_ms_per_cell"]
    add(
        f"Machine: {m['cpu_model']}, {m['cpus']} CPUs, {m['mem_gib']} GiB, kernel "
        f"{m['kernel']}, {m['os']}; Python {m['python']}, dbus-fast {m['dbus_fast']}, "
        f"dbus-python {m['dbus_python']}, click {m['click']}, {m['dbus_daemon']}, "
        f"{m['busctl']}.\n"
    )
    add(
        f"Load: load average {load['loadavg_start']} at the start and "
        f"{load['loadavg_end'] or '?'} at the end; other tenants' CPU over the measured cells "
        f"{cells.get('min')} to {cells.get('max')} cores (median {cells.get('median')}); "
        f"speed probe {probes.get('min')} to {probes.get('max')} ms (median "
        f"{probes.get('median')}; a fixed Python loop, lower is faster). Before each cell "
        f"the run waited up to {load['quiet_wait_s']:.0f} s for other tenants to use less "
        f"than {load['quiet_cores']} cores. Raw data (not in git): `{summary['raw']}`.\n"
    )
    add(f"{src}: the targets.\n")
    out += _md(
        ("metric", "target", "measured", "floor", "ratio to floor", "verdict"),
        [
            (
                r["metric"],
                f"{'≥' if r['higher_is_better'] else '≤'} {_fmt(r['target'])}",
                _fmt(r["measured"]),
                _fmt(r["floor"]),
                _x(r["ratio"]),
                r["verdict"],
            )
            for r in _rows(summary["headline"])
        ],
    )
    _calls(summary, src, out)
    if "tail" in summary:
        _tail(summary, src, out)
    if "gc" in summary:
        _gc(summary, src, out)
    if "instructions" in summary:
        _instructions(summary, src, out)
    _cli(summary, src, out)
    _startup(summary, src, out)
    if "profile" in summary:
        _profile(summary, src, out)
    return "\n".join(out)


def _calls(summary: Mapping[str, Any], src: str, out: list[str]) -> None:
    calls = summary["calls"]
    out.append("\n#### (a) GetStatus from a dbus-fast asyncio client (raw Message + bus.call)\n")
    per_round = calls["ratio_per_round"]
    out.append(
        f"{src}. Latency: {summary['plan']['latency_calls']:,} sequential calls after "
        f"{summary['plan']['warmup']} warm-up calls; throughput: "
        f"{summary['plan']['inflight']} calls in flight. One row per round; rounds "
        "alternate agent/floor, each side's cells at its own minutes. CPU µs/call measured "
        "during the throughput cell; other tenants in cores (latency cell / throughput "
        "cell). Agent/floor ratio per round: p50 "
        + ", ".join(_x(v) for v in per_round["p50_us"])
        + "; p99 "
        + ", ".join(_x(v) for v in per_round["p99_us"])
        + ".\n"
    )
    rows = []
    for r in _rows(calls["rounds"]):
        rows.append(
            (
                r["round"],
                r["side"],
                r["p50_us"],
                r["p90_us"],
                r["p99_us"],
                r["max_us"],
                f"{r['calls_per_s']:,}",
                r["server_cpu_us_per_call"],
                r["dbus_daemon_cpu_us_per_call"],
                f"{r['other_tenants_latency']:.2f} / {r['other_tenants_throughput']:.2f}",
                r["quiet_wait_s"],
                r["speed_probe_ms"],
            )
        )
    for side in ("agent", "floor"):
        s = calls["median"][side]
        rows.append(
            (
                "median",
                side,
                s["p50_us"],
                "",
                s["p99_us"],
                "",
                f"{s['calls_per_s']:,}",
                s["server_cpu_us_per_call"],
                s["dbus_daemon_cpu_us_per_call"],
                "",
                "",
                "",
            )
        )
    ratio = calls["ratio_of_medians"]
    rows.append(
        (
            "ratio",
            "agent/floor",
            _x(ratio["p50_us"]),
            "",
            _x(ratio["p99_us"]),
            "",
            _x(ratio["calls_per_s"]),
            _x(ratio["server_cpu_us_per_call"]),
            "",
            "",
            "",
            "",
        )
    )
    out += _md(
        (
            "round",
            "side",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "max µs",
            "calls/s",
            "server CPU µs/call",
            "dbus-daemon µs/call",
            "other tenants",
            "waited for quiet s",
            "speed probe ms",
        ),
        rows,
    )


def _tail(summary: Mapping[str, Any], src: str, out: list[str]) -> None:
    tail = summary["tail"]
    out.append("\n#### (a2) Agent and floor interleaved call by call, and where the time goes\n")
    out.append(
        f"{src}. {tail['calls_per_side']:,} sequential calls per side and round, "
        "alternating agent, floor, floor, agent, ... on two connections, so both sides "
        "see the same moments of the machine. Median over the rounds of the per-round "
        f"ratio: p50 {_x(tail['median_ratio']['p50'])}, p99 {_x(tail['median_ratio']['p99'])}.\n"
    )
    out += _md(
        ("round", "side", "p50 µs", "p99 µs", "p50 ratio", "p99 ratio", "other tenants",
         "speed probe ms"),
        [
            (
                r["round"],
                r["side"],
                r["p50_us"],
                r["p99_us"],
                _x(r["p50_ratio"]),
                _x(r["p99_ratio"]),
                f"{r['other_tenants']:.2f}",
                r["speed_probe_ms"],
            )
            for r in _rows(tail["rounds"])
        ],
    )  # fmt: skip
    out.append(
        f"\n{src}. Mean µs per call from `/proc/PID/schedstat` around each call (medians "
        "over the rounds): on a CPU, and runnable but waiting for one (run queue), for the "
        "server, its dbus-daemon and the client; for the calls around the median (45th to "
        "55th percentile) and the slowest 1%. The processes overlap in time, so the parts "
        "do not add up to the latency.\n"
    )
    out += _md(
        ("side", "calls", "latency", "server CPU", "server run queue", "dbus-daemon CPU",
         "dbus-daemon run queue", "client CPU", "client run queue"),
        [
            (
                r["side"],
                "median" if r["calls"] == "median_calls" else "slowest 1%",
                r["latency_us"],
                r["server_cpu_us"],
                r["server_runq_us"],
                r["dbus_daemon_cpu_us"],
                r["dbus_daemon_runq_us"],
                r["client_cpu_us"],
                r["client_runq_us"],
            )
            for r in _rows(tail["parts"])
        ],
    )  # fmt: skip


def _gc(summary: Mapping[str, Any], src: str, out: list[str]) -> None:
    out.append("\n#### (a3) Garbage collections in the server during the latency cell\n")
    out.append(
        f"{src}. Each server runs under `bench/gc_watched.py` (a `gc.callbacks` hook); "
        'collections counted from after the warm-up to the last call; "in a collection": '
        "of the slowest 1% of calls, how many overlapped one. `agent+catalog`: after one "
        "`ListModules`, as the agent of (a) is.\n"
    )
    out += _md(
        ("server", "round", "calls", "p50 µs", "p99 µs", "gen 0", "gen 1", "gen 2",
         "slowest 1% in a collection", "objects tracked", "frozen", "other tenants"),
        [
            (
                r["server"],
                r["round"],
                f"{r['calls']:,}",
                r["p50_us"],
                r["p99_us"],
                r["gen0"],
                r["gen1"],
                r["gen2"],
                r["slowest_1pct_in_a_collection"],
                f"{r['tracked_objects']:,}",
                r["frozen_objects"],
                f"{r['other_tenants']:.2f}",
            )
            for r in _rows(summary["gc"]["cells"])
        ],
    )  # fmt: skip


def _instructions(summary: Mapping[str, Any], src: str, out: list[str]) -> None:
    ins = summary["instructions"]
    out.append("\n#### (a4) Instructions per GetStatus in the server (callgrind)\n")
    out.append(
        f"{src}. {ins['calls']:,} sequential calls after the warm-up, each server under "
        f"`valgrind --tool=callgrind` ({ins['valgrind']}) with instrumentation switched on "
        "for those calls only; user-space instructions (Ir) per call, the kernel's not "
        "counted. A count, not a time: other tenants do not change it.\n"
    )
    out += _md(
        ("server", "instructions per call", "ratio to floor", "above the floor"),
        [
            (
                label,
                f"{ir:,}",
                _x(ins["ratio_to_floor"][label]),
                f"{ir - ins['ir_per_call']['floor']:+,}",
            )
            for label, ir in ins["ir_per_call"].items()
        ],
    )


def _cli(summary: Mapping[str, Any], src: str, out: list[str]) -> None:
    cli = summary["cli"]
    other, probe = cli["other_tenants"], cli["speed_probe_ms"]
    out.append("\n#### (b) One-shot CLI wall time (spawn to exit, ms)\n")
    out.append(
        f"{src}. Interleaved runs after one unrecorded run each; other tenants "
        f"{other[0]:.2f} cores (main) / {other[1]:.2f} (breakdown) / {other[2]:.2f} "
        "(imports). The `python -S` rows put the same packages on PYTHONPATH so no site "
        "hook runs: interpreter plus exactly the named imports. Speed probe (median over "
        f"the phase): {probe[0]} / {probe[1]} / {probe[2]} ms. `laisctl status` / `busctl`: "
        f"{_x(cli['laisctl_to_busctl'])}.\n"
    )
    out += _md(
        ("command", "runs", "median", "min", "max"),
        [
            (f"`{r['command']}`", r["runs"], r["median_ms"], r["min_ms"], r["max_ms"])
            for r in _rows(cli["cells"])
        ],
    )
    for key, what in (("importtime", "dev venv"), ("importtime_plain", "plain venv")):
        it = cli["importtime"][key]
        out.append(
            f"\n`python -X importtime laisctl status` ({what}; median of {it['runs']}; "
            "importtime adds overhead of its own). Top level, cumulative ms: "
            + ", ".join(f"{n} {ms}" for n, ms in it["top_level_cumulative_ms"].items())
            + f" (all top-level {it['total_top_level_ms']}). Second level: "
            + ", ".join(f"{n} {ms}" for n, ms in it["second_level_cumulative_ms"].items())
            + "."
        )


def _startup(summary: Mapping[str, Any], src: str, out: list[str]) -> None:
    st, mem = summary["startup"], summary["memory"]
    out.append("\n#### (c) Start-up and memory\n")
    out.append(
        f"{src}. Exec to `NameOwnerChanged` seen by a client connected before the spawn; "
        f"{st['starts_per_side']} starts per side, alternating, after one warm-up start "
        f"each; other tenants {st['other_tenants']:.2f} cores; speed probe "
        f"{st['speed_probe_ms']} ms.\n"
    )
    out += _md(
        ("side", "name acquired ms, median (min-max)", "RSS at name MiB", "first call ms",
         "RSS after first call MiB", "USS after first call MiB"),
        [
            (
                r["side"],
                f"{r['name_ms_median']} ({r['name_ms_min']}-{r['name_ms_max']})",
                r["rss_at_name_mib"],
                r["first_call_ms"],
                r["rss_after_first_call_mib"],
                r["uss_after_first_call_mib"],
            )
            for r in _rows(st["sides"])
        ],
    )  # fmt: skip
    out.append(f"\n{src}. Memory under load (fresh long-lived servers, calls with 50 in flight):\n")
    after = mem["calls_after"]
    out += _md(
        ("side", "RSS at name", "after first call", "idle 1 s later",
         *(f"after {n:,} calls" for n in after), "USS after first call → last",
         "server CPU µs/call", "other tenants"),
        [
            (
                r["side"],
                r["rss_at_name"],
                r["rss_after_first_call"],
                r["rss_idle"],
                *r["rss_after"],
                f"{r['uss_after_first_call']} → {r['uss_last']}",
                " / ".join(str(v) for v in r["server_cpu_us_per_call"]),
                " / ".join(f"{v:.2f}" for v in r["other_tenants"]),
            )
            for r in _rows(mem["sides"])
        ],
    )  # fmt: skip
    in_use = mem["catalog_in_use"]
    out.append(
        f"\nAgent with its catalog in use (after one `ListModules`, {in_use['list_modules_s']} s: "
        f"pydantic, the policies and the manifests loaded, Module objects exported): RSS "
        f"{in_use['rss_mib']} MiB, USS {in_use['uss_mib']} MiB (no target)."
    )


def _profile(summary: Mapping[str, Any], src: str, out: list[str]) -> None:
    prof = summary["profile"]
    out.append("\n#### Profile under load (cProfile, main thread, start-up excluded)\n")
    out.append(f"{src}.\n")
    out += _md(
        ("side", "requests", "Python-level calls per request", "asyncio tasks per request",
         "event-loop callbacks per request", "profiled µs per request (without epoll wait)"),
        [
            (
                r["side"],
                f"{r['requests']:,}",
                r["python_calls_per_request"],
                r["tasks_per_request"],
                r["loop_callbacks_per_request"],
                r["profiled_us_per_request"],
            )
            for r in _rows(prof["sides"])
        ],
    )  # fmt: skip
    out.append(f"\n{src}. Agent, top functions by own time (µs per request, under the profiler):\n")
    out += _md(
        ("function", "calls per request", "own µs", "cumulative µs"),
        [
            (f"`{r['function']}`", f"{r['calls_per_request']:.2f}", r["own_us"],
             r["cumulative_us"])
            for r in _rows(prof["agent_top_tottime"])
        ],
    )  # fmt: skip


def section(summary: Mapping[str, Any]) -> str:
    """The section between the page's markers, markers included."""
    return "\n".join((BEGIN.format(path=published_path(summary)), "", markdown(summary), "", END))


def load(path: Path) -> dict[str, Any]:
    """A published summary, or the summary of a raw results file."""
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc if "format" in doc else publishable(doc)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(section(load(Path(args[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

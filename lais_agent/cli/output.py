"""Human output for laisctl: sizes, durations, aligned tables. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(value: Any) -> str:
    if not isinstance(value, int | float):
        return "unknown"
    amount = float(value)
    for unit in _UNITS:
        if abs(amount) < 1024 or unit == _UNITS[-1]:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "unknown"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    if minutes or hours or days:
        parts.append(f"{minutes}min")
    parts.append(f"{secs}s")
    return " ".join(parts)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """Label/value lines with the values aligned."""
    width = max((len(label) for label, _ in pairs), default=0)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in pairs)


def to_json(data: Any) -> str:
    import json  # noqa: PLC0415 - only --json pays for it

    return json.dumps(data, indent=2, sort_keys=True)


def _or(value: Any, default: str = "unknown") -> str:
    return default if value in (None, "") else str(value)


def format_status(status: Mapping[str, Any]) -> str:
    hw: Mapping[str, Any] = status.get("hardware", {})
    gpu_names = hw.get("gpu_names") or []
    gpus = ", ".join(gpu_names) if gpu_names else "none"
    issues = int(hw.get("issue_count", 0))
    return fields(
        [
            ("Agent", f"lais-agent {_or(status.get('version'))} on {_or(status.get('hostname'))}"),
            (
                "State",
                f"running (pid {_or(status.get('pid'))}), up "
                f"{duration(status.get('uptime_seconds'))}",
            ),
            ("CPU", f"{_or(hw.get('cpu_model'))}, {_or(hw.get('logical_cores'))} logical cores"),
            ("Memory", size(hw.get("memory_total_bytes"))),
            ("GPUs", f"{gpus} ({size(hw.get('vram_total_bytes'))} VRAM)" if gpu_names else gpus),
            ("Issues", f"{issues}; see `laisctl hardware`" if issues else "none"),
        ]
    )


def _gpu_details(gpu: Mapping[str, Any]) -> str:
    details = []
    if gpu.get("compute_capability"):
        details.append(f"cc {gpu['compute_capability']}")
    if gpu.get("mig_mode") and gpu["mig_mode"] != "unsupported":
        details.append(f"MIG {gpu['mig_mode']}")
    if gpu.get("nvlink_peers"):
        details.append("NVLink→" + ",".join(gpu["nvlink_peers"]))
    if gpu.get("render_node"):
        details.append(gpu["render_node"])
    return ", ".join(details)


def format_hardware(hw: Mapping[str, Any]) -> str:
    cpu: Mapping[str, Any] = hw.get("cpu", {})
    mem: Mapping[str, Any] = hw.get("memory", {})
    disk: Mapping[str, Any] = hw.get("storage", {})
    os_: Mapping[str, Any] = hw.get("os", {})
    sockets = cpu.get("sockets")
    lines = [
        (
            "CPU",
            f"{_or(cpu.get('model'))} ({_or(cpu.get('architecture'))}), "
            f"{_or(sockets)} socket{'s' if sockets != 1 else ''}, "
            f"{_or(cpu.get('physical_cores'))} cores / "
            f"{_or(cpu.get('logical_cores'))} threads, "
            f"{_or(cpu.get('numa_nodes'))} NUMA node(s)",
        ),
        ("ISA", " ".join(cpu.get("isa", [])) or "none of interest"),
        (
            "Memory",
            f"{size(mem.get('total_bytes'))} total, "
            f"{size(mem.get('available_bytes'))} available, "
            f"swap {size(mem.get('swap_total_bytes'))}",
        ),
        (
            "Model store",
            f"{_or(disk.get('path'))} on {_or(disk.get('mount_point'))} "
            f"({_or(disk.get('filesystem'))}, {_or(disk.get('device'))}): "
            f"{size(disk.get('free_bytes'))} free of {size(disk.get('total_bytes'))}",
        ),
        ("OS", f"{_or(os_.get('pretty_name'))}, kernel {_or(os_.get('kernel'))}"),
        (
            "Virtualization",
            f"{_or(os_.get('virtualization'))}; container: {_or(os_.get('container'), 'none')}",
        ),
        ("Secure Boot", _or(os_.get("secure_boot"))),
    ]
    nvidia = hw.get("nvidia")
    if nvidia:
        lines.append(
            (
                "NVIDIA driver",
                f"{_or(nvidia.get('driver_version'))}, "
                f"CUDA {_or(nvidia.get('cuda_driver_version'))}",
            )
        )
    out = [fields(lines), ""]
    gpus = hw.get("gpus", [])
    if gpus:
        rows = [
            [
                str(i),
                g.get("pci_bus_id", ""),
                g.get("vendor", ""),
                g.get("name", ""),
                _or(g.get("driver"), "none"),
                size(g.get("vram_total_bytes"))
                if g.get("vram_total_bytes") is not None
                else "unknown",
                _gpu_details(g),
            ]
            for i, g in enumerate(gpus)
        ]
        out.append(table(["#", "BUS ID", "VENDOR", "NAME", "DRIVER", "VRAM", "DETAILS"], rows))
    else:
        out.append("GPUs: none detected")
    issues = hw.get("issues", [])
    if issues:
        out.append("")
        out.append("Could not read everything:")
        out.extend(f"  {i.get('component')}: {i.get('message')}" for i in issues)
    return "\n".join(out)


def format_tier(cap: Mapping[str, Any], *, explain: bool = False) -> str:
    limits: Mapping[str, Any] = cap.get("limits", {})
    params = limits.get("max_model_params_b")
    bits = limits.get("max_model_quantization_bits")
    size = "no limit" if params is None else f"{params:g}B parameters"
    if params is not None and bits:
        size += f" at {bits}-bit"
    allowed = limits.get("allowed_runtimes")
    denied = limits.get("denied_runtimes") or []
    runtimes = ", ".join(allowed) if allowed is not None else "any"
    if denied:
        runtimes += f" (denied: {', '.join(denied)})"

    def opt(key: str, fmt: str = "{}") -> str:
        value = limits.get(key)
        return "no limit" if value is None else fmt.format(value)

    lines = [
        ("Tier", f"{_or(cap.get('tier'))} (rank {_or(cap.get('rank'))}): {_or(cap.get('title'))}"),
        ("Largest model", size),
        ("Runtimes", runtimes),
        ("Tensor parallel", opt("max_tensor_parallel")),
        ("Concurrent models", opt("max_concurrent_models")),
        ("VRAM use", opt("vram_utilization_max", "at most {:.0%}")),
        ("RAM use", opt("ram_utilization_max", "at most {:.0%}")),
    ]
    out = [fields(lines)]
    if explain:
        out += ["", "Why this tier:"]
        out += [f"  {line}" for line in cap.get("explanation", [])]
        out += ["", "Why these limits:"]
        out += [f"  {line}" for line in cap.get("reasons", [])] or ["  no rule matched"]
    notes = cap.get("notes", [])
    if notes:
        out += ["", "Note:"] + [f"  {line}" for line in notes]
    return "\n".join(out)


def format_overrides(history: Sequence[Mapping[str, Any]], *, title: str = "Overrides") -> str:
    if not history:
        return f"{title}: none"
    rows = []
    for o in history:
        changes = [f"{k}={v:g}" for k, v in sorted(o.get("limits", {}).items())]
        changes += [f"allow {r}" for r in o.get("allow_runtimes", [])]
        changes += [f"deny {r}" for r in o.get("deny_runtimes", [])]
        state = (
            "active"
            if "reverted_at" not in o
            else (
                f"reverted {o['reverted_at']} by {o.get('reverted_by', '?')}: "
                f"{o.get('revert_reason', '')}"
            )
        )
        rows.append(
            [
                o.get("id", ""),
                o.get("created_at", ""),
                o.get("user", ""),
                ", ".join(changes),
                o.get("reason", ""),
                state,
            ]
        )
    return f"{title}:\n" + table(["ID", "WHEN", "WHO", "CHANGES", "WHY", "STATE"], rows)


def format_modules(modules: Sequence[Mapping[str, Any]]) -> str:
    if not modules:
        return "no modules match"
    rows = []
    for m in modules:
        if m.get("installable"):
            state = f"yes: {m.get('best_version')} via {', '.join(m.get('modes', []))}"
        else:
            first = (m.get("reasons") or ["no reason recorded"])[0]
            state = f"no: {first}"
        rows.append([m.get("name", ""), m.get("category", ""), m.get("versions", [""])[0], state])
    return table(["MODULE", "CATEGORY", "NEWEST", "INSTALLABLE HERE"], rows)


def format_module(m: Mapping[str, Any]) -> str:
    provides = ", ".join(m.get("Provides", [])) or "nothing"
    consumes = ", ".join(m.get("Consumes", [])) or "nothing"
    if m.get("Installable"):
        here = f"yes: {m.get('BestVersion')} via {', '.join(m.get('Modes', []))}"
    else:
        here = "no"
    lines = [
        ("Module", f"{_or(m.get('Name'))} ({_or(m.get('Category'))}): {_or(m.get('Title'))}"),
        ("About", _or(m.get("Description"))),
        ("Homepage", _or(m.get("Homepage"))),
        ("License", _or(m.get("License"))),
        ("Provides", provides),
        ("Consumes", consumes),
        ("State", _or(m.get("State"))),
        ("Signed by", _or(m.get("SignedBy"), "nobody (unsigned)")),
        ("Installable here", here),
    ]
    out = [fields(lines), ""]
    rows = []
    notes: list[str] = []
    for v in m.get("VersionDetails", []):
        if v.get("installable"):
            state = "yes, via " + ", ".join(v.get("modes", []))
        else:
            state = "no: " + "; ".join(v.get("reasons", []))
        rows.append([v.get("version", ""), state])
        notes += [f"  {v.get('version')}: {n}" for n in v.get("unusable_modes", [])]
    out.append(table(["VERSION", "INSTALLABLE HERE"], rows))
    if notes and m.get("Installable"):
        out += ["", "Modes not usable here:", *notes]
    return "\n".join(out)


def format_plan(plan: Mapping[str, Any]) -> str:
    steps = plan.get("steps", [])
    out = [f"Plan for {', '.join(plan.get('requested', []))} on {_or(plan.get('tier'))}"]
    out.append("(a dry run: nothing was changed)")
    out.append("")
    rows = [
        [
            str(i + 1),
            s.get("module", ""),
            s.get("version", ""),
            s.get("mode", ""),
            size(s["disk_bytes"]) if "disk_bytes" in s else "unknown",
            ", ".join(s.get("requested_by", [])),
        ]
        for i, s in enumerate(steps)
    ]
    out.append(table(["#", "MODULE", "VERSION", "MODE", "DISK", "NEEDED BY"], rows))
    for i, s in enumerate(steps):
        out += ["", f"{i + 1}. {s.get('module')} {s.get('version')}: {s.get('unit_kind')}"]
        out += [f"   {line}" for line in s.get("explanation", [])]
        for d in s.get("downloads", []):
            kind, source, check = d.get("kind"), d.get("source"), d.get("verified_by")
            out.append(f"   fetch {kind}: {source} (verified by {check})")
        if s.get("ports"):
            out.append(f"   ports: {', '.join(s['ports'])}")
        needs = []
        if "ram_bytes" in s:
            needs.append(f"{size(s['ram_bytes'])} RAM")
        if "vram_bytes" in s:
            needs.append(f"{size(s['vram_bytes'])} VRAM")
        if needs:
            out.append(f"   needs: {', '.join(needs)}")
    free = plan.get("disk_free_bytes")
    disk = f"{size(plan.get('disk_bytes'))} of disk"
    if free is not None:
        disk += f" ({size(free)} free)"
    out += [
        "",
        fields(
            [
                ("Downloads", str(plan.get("download_count", 0))),
                ("Disk", disk),
                (
                    "Largest RAM need",
                    size(plan.get("ram_bytes")) if plan.get("ram_bytes") else "none",
                ),
                (
                    "Largest VRAM need",
                    size(plan.get("vram_bytes")) if plan.get("vram_bytes") else "none",
                ),
            ]
        ),
    ]
    warnings = plan.get("warnings", [])
    if warnings:
        out += ["", "Warnings:", *(f"  {w}" for w in warnings)]
    return "\n".join(out)

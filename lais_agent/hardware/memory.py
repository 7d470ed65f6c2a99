"""Memory and swap from /proc/meminfo."""

from __future__ import annotations

from pathlib import Path

from lais_agent.hardware.profile import Issue, Memory
from lais_agent.hardware.sources import read_text

COMPONENT = "memory"


def parse_meminfo(text: str) -> dict[str, int]:
    """meminfo fields in bytes ("MemTotal: 100 kB" -> {"MemTotal": 102400})."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        parts = rest.split()
        if not sep or not parts or not parts[0].isdigit():
            continue
        scale = 1024 if len(parts) > 1 and parts[1] == "kB" else 1
        values[key.strip()] = int(parts[0]) * scale
    return values


def probe_memory(root: Path, issues: list[Issue]) -> Memory:
    text = read_text(root / "proc/meminfo", issues, COMPONENT)
    values = parse_meminfo(text) if text is not None else {}
    for key in ("MemTotal", "MemAvailable") if text is not None else ():
        if key not in values:
            issues.append(Issue(COMPONENT, f"/proc/meminfo has no {key} line"))
    return Memory(
        total_bytes=values.get("MemTotal"),
        available_bytes=values.get("MemAvailable"),
        swap_total_bytes=values.get("SwapTotal"),
        swap_free_bytes=values.get("SwapFree"),
    )

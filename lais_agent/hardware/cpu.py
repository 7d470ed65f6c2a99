"""CPU: model, topology, ISA extensions and NUMA nodes from procfs/sysfs."""

from __future__ import annotations

import re
from pathlib import Path

from lais_agent.hardware.profile import Cpu, Issue
from lais_agent.hardware.sources import list_dir, read_text

COMPONENT = "cpu"

# ISA extensions that matter for inference kernels (llama.cpp, oneDNN, OpenVINO...).
AI_ISA = frozenset(
    {
        # x86
        "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni",
        "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl",
        "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx512vbmi",
        "amx_tile", "amx_bf16", "amx_int8", "amx_fp16",
        # arm64
        "asimd", "asimddp", "sve", "sve2", "i8mm", "bf16", "fphp", "asimdhp",
    }
)  # fmt: skip

_NODE_RE = re.compile(r"node\d+")


def _blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def parse_cpuinfo(text: str) -> tuple[str | None, str | None, str | None, int, int, int, set[str]]:
    """(model, vendor, architecture, sockets, physical cores, logical cores, flags)."""
    blocks = _blocks(text)
    processors = [b for b in blocks if "processor" in b]
    header = {k: v for b in blocks if "processor" not in b for k, v in b.items()}
    first = processors[0] if processors else header
    flags: set[str] = set((first.get("flags") or first.get("Features") or "").split())
    model = first.get("model name") or header.get("Model") or header.get("Hardware")
    vendor = first.get("vendor_id")
    if "flags" in first or vendor:
        architecture: str | None = "x86_64" if "lm" in flags else "x86"
    elif "CPU implementer" in first or "Features" in first:
        architecture = "aarch64"
    else:
        architecture = None
    logical = len(processors)
    sockets_seen = {b.get("physical id") for b in processors if "physical id" in b}
    cores_seen = {(b.get("physical id"), b.get("core id")) for b in processors if "core id" in b}
    sockets = len(sockets_seen) or 1
    physical = len(cores_seen) or logical
    return model, vendor, architecture, sockets, physical, logical, flags


def probe_cpu(root: Path, issues: list[Issue]) -> Cpu:
    text = read_text(root / "proc/cpuinfo", issues, COMPONENT)
    if text is None:
        return Cpu(None, None, None, None, None, None, (), _numa_nodes(root, issues))
    model, vendor, arch, sockets, physical, logical, flags = parse_cpuinfo(text)
    if logical == 0:
        issues.append(Issue(COMPONENT, "/proc/cpuinfo lists no processors"))
    return Cpu(
        model=model,
        vendor=vendor,
        architecture=arch,
        sockets=sockets if logical else None,
        physical_cores=physical if logical else None,
        logical_cores=logical or None,
        isa=tuple(sorted(flags & AI_ISA)),
        numa_nodes=_numa_nodes(root, issues),
    )


def _numa_nodes(root: Path, issues: list[Issue]) -> int | None:
    node_dir = root / "sys/devices/system/node"
    nodes = [p for p in list_dir(node_dir, issues, COMPONENT) if _NODE_RE.fullmatch(p.name)]
    if not nodes:
        issues.append(Issue(COMPONENT, f"no NUMA nodes listed under {node_dir}"))
        return None
    return len(nodes)

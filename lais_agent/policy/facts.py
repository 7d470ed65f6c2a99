"""The hardware facts policies are written against, derived from a HardwareProfile.

Sizes are GiB (what people write in policies); a GPU counts as an accelerator
only with a bound driver and a known VRAM size, so an iGPU or a card without its
driver never lifts a machine's tier.
"""

from __future__ import annotations

from dataclasses import dataclass

from lais_agent.hardware.profile import Gpu, HardwareProfile

GiB = 1024**3
MIN_ACCELERATOR_VRAM_GIB = 4.0


@dataclass(frozen=True)
class Facts:
    gpu_count: int
    vram_per_gpu_gib: float  # the largest accelerator's VRAM
    vram_total_gib: float
    nvlink: bool
    ram_gib: float
    cpu_features: frozenset[str]
    gpu_vendors: frozenset[str]
    notes: tuple[str, ...] = ()  # why a GPU did not count


def accelerator_problem(gpu: Gpu) -> str | None:
    """Why ``gpu`` does not count as an accelerator; None when it does. The unit
    renderers give a module exactly the GPUs that count."""
    if gpu.driver is None:
        return "no driver bound"
    if gpu.vram_total_bytes is None:
        return "its VRAM size is unknown"
    size = gpu.vram_total_bytes / GiB
    if size < MIN_ACCELERATOR_VRAM_GIB:
        return f"{size:.1f} GiB VRAM"
    return None


def facts_from(profile: HardwareProfile) -> Facts:
    vram: list[float] = []
    vendors: set[str] = set()
    notes: list[str] = []
    nvlink = False
    for gpu in profile.gpus:
        problem = accelerator_problem(gpu)
        if problem is not None:
            notes.append(f"{gpu.name} ({gpu.pci_bus_id}) does not count: {problem}")
            continue
        size = (gpu.vram_total_bytes or 0) / GiB
        vram.append(size)
        vendors.add(gpu.vendor)
        nvlink = nvlink or bool(gpu.nvlink_peers)
    return Facts(
        gpu_count=len(vram),
        vram_per_gpu_gib=max(vram, default=0.0),
        vram_total_gib=sum(vram),
        nvlink=nvlink,
        ram_gib=(profile.memory.total_bytes or 0) / GiB,
        cpu_features=frozenset(profile.cpu.isa),
        gpu_vendors=frozenset(vendors),
        notes=tuple(notes),
    )

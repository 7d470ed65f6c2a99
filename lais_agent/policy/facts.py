"""The hardware facts policies are written against, derived from a HardwareProfile.

Sizes are GiB (what people write in policies); a GPU counts as an accelerator
only with a bound driver and a known VRAM size, so an iGPU or a card without its
driver never lifts a machine's tier.
"""

from __future__ import annotations

from dataclasses import dataclass

from lais_agent.hardware.profile import HardwareProfile

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


def facts_from(profile: HardwareProfile) -> Facts:
    vram: list[float] = []
    vendors: set[str] = set()
    notes: list[str] = []
    nvlink = False
    for gpu in profile.gpus:
        label = f"{gpu.name} ({gpu.pci_bus_id})"
        if gpu.driver is None:
            notes.append(f"{label} does not count: no driver bound")
            continue
        if gpu.vram_total_bytes is None:
            notes.append(f"{label} does not count: its VRAM size is unknown")
            continue
        size = gpu.vram_total_bytes / GiB
        if size < MIN_ACCELERATOR_VRAM_GIB:
            notes.append(f"{label} does not count: {size:.1f} GiB VRAM")
            continue
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

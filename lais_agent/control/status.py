"""The agent status summary (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from lais_agent.hardware.profile import HardwareProfile


@dataclass(frozen=True)
class HardwareSummary:
    cpu_model: str | None
    logical_cores: int | None
    memory_total_bytes: int | None
    gpu_count: int
    gpu_names: tuple[str, ...]
    vram_total_bytes: int
    issue_count: int


@dataclass(frozen=True)
class AgentIdentity:
    """The parts of GetStatus that never change while the agent runs."""

    version: str
    pid: int
    started_at_unix: float


@dataclass(frozen=True)
class AgentClock:
    """The parts of GetStatus computed per call."""

    uptime_seconds: float
    hostname: str


def summarize(profile: HardwareProfile) -> HardwareSummary:
    return HardwareSummary(
        cpu_model=profile.cpu.model,
        logical_cores=profile.cpu.logical_cores,
        memory_total_bytes=profile.memory.total_bytes,
        gpu_count=len(profile.gpus),
        gpu_names=tuple(g.name for g in profile.gpus),
        vram_total_bytes=profile.total_vram_bytes,
        issue_count=len(profile.issues),
    )

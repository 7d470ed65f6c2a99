"""Detection entry point: one call probes everything into a HardwareProfile."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lais_agent import names
from lais_agent.hardware.containers import probe_containers
from lais_agent.hardware.cpu import probe_cpu
from lais_agent.hardware.memory import probe_memory
from lais_agent.hardware.nvidia import NvmlFactory, load_pynvml, merge_nvml, probe_nvml
from lais_agent.hardware.pci import probe_pci_gpus
from lais_agent.hardware.profile import HardwareProfile, Issue
from lais_agent.hardware.storage import probe_storage
from lais_agent.hardware.system import probe_os


@dataclass(frozen=True)
class ProbeSources:
    """Where detection reads from. Tests pass a recorded tree and a replayed NVML."""

    root: Path = Path("/")
    store_path: str = names.MODELS_DIR
    store_stat_path: Path | None = None  # defaults to root / store_path
    nvml_factory: NvmlFactory = field(default=load_pynvml)


def detect(sources: ProbeSources) -> HardwareProfile:
    issues: list[Issue] = []
    root = sources.root
    gpus = probe_pci_gpus(root, issues)
    nvidia = None
    sysfs_readable = (root / "sys/bus/pci/devices").is_dir()
    if any(g.vendor == "nvidia" for g in gpus) or not sysfs_readable:
        nvidia, devices = probe_nvml(sources.nvml_factory, issues)
        gpus = merge_nvml(gpus, devices)
    for gpu in gpus:
        if gpu.driver is None:
            issues.append(
                Issue(
                    f"gpu.{gpu.vendor}",
                    f"{gpu.name} at {gpu.pci_bus_id} has no kernel driver bound; "
                    "install and load its driver to use it",
                )
            )
    stat_path = sources.store_stat_path or root / sources.store_path.lstrip("/")
    return HardwareProfile(
        cpu=probe_cpu(root, issues),
        memory=probe_memory(root, issues),
        storage=probe_storage(sources.store_path, stat_path, root / "proc/self/mounts", issues),
        gpus=tuple(gpus),
        os=probe_os(root, issues),
        nvidia=nvidia,
        containers=probe_containers(root, issues),
        issues=tuple(issues),
    )

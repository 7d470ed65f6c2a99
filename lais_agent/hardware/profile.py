"""The typed hardware profile. Pure data: no probing here.

Every value that could not be read is ``None`` (or empty) and an ``Issue`` says
what could not be read and why. Sizes are bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Issue:
    """Something detection could not read, and why."""

    component: str  # e.g. "gpu.nvidia", "cpu", "storage"
    message: str


@dataclass(frozen=True)
class Cpu:
    model: str | None
    vendor: str | None
    architecture: str | None
    sockets: int | None
    physical_cores: int | None
    logical_cores: int | None
    isa: tuple[str, ...]  # the AI-relevant ISA extensions present, sorted
    numa_nodes: int | None


@dataclass(frozen=True)
class Memory:
    total_bytes: int | None
    available_bytes: int | None
    swap_total_bytes: int | None
    swap_free_bytes: int | None


@dataclass(frozen=True)
class Storage:
    path: str
    mount_point: str | None
    filesystem: str | None
    device: str | None
    total_bytes: int | None
    free_bytes: int | None


@dataclass(frozen=True)
class Gpu:
    pci_bus_id: str  # sysfs form, e.g. "0000:01:00.0"
    vendor: str  # "nvidia" | "amd" | "intel" | "other"
    vendor_id: str  # "10de"
    device_id: str  # "2684"
    name: str
    driver: str | None  # the bound kernel driver, None when unbound
    vram_total_bytes: int | None = None
    vram_free_bytes: int | None = None
    render_node: str | None = None  # "/dev/dri/renderD128"
    numa_node: int | None = None
    # NVIDIA (NVML) only:
    uuid: str | None = None
    compute_capability: str | None = None  # "8.9"
    nvlink_peers: tuple[str, ...] = ()  # PCI bus ids of NVLink peers
    mig_mode: str | None = None  # "enabled" | "disabled" | "unsupported"


@dataclass(frozen=True)
class Os:
    id: str | None
    version_id: str | None
    codename: str | None
    pretty_name: str | None
    kernel: str | None
    virtualization: str | None  # "none", "kvm", "vmware", ...; None when unknown
    container: str | None  # "systemd-nspawn", "docker", ...; None when not in one
    secure_boot: str  # "enabled" | "disabled" | "unsupported" | "unknown"
    # The release's /usr/bin/python3 as "3.11": what the bundled virtualenv and module
    # venvs are built from. Read from the root, so recorded machines carry their own.
    python: str | None = None


@dataclass(frozen=True)
class NvidiaDriver:
    driver_version: str | None
    cuda_driver_version: str | None  # "12.4"


@dataclass(frozen=True)
class ContainerSupport:
    """How modules could run in containers here (see hardware/containers.py)."""

    podman: bool  # a podman binary is installed
    podman_version: str | None  # upstream version from its package, e.g. "4.9.3"
    quadlet: bool  # podman's systemd generator is installed (podman >= 4.4)
    cdi_kinds: tuple[str, ...]  # CDI device kinds with a spec, e.g. "nvidia.com/gpu"


NO_CONTAINERS = ContainerSupport(podman=False, podman_version=None, quadlet=False, cdi_kinds=())


@dataclass(frozen=True)
class HardwareProfile:
    cpu: Cpu
    memory: Memory
    storage: Storage
    gpus: tuple[Gpu, ...]
    os: Os
    nvidia: NvidiaDriver | None
    containers: ContainerSupport = NO_CONTAINERS
    issues: tuple[Issue, ...] = field(default=())

    @property
    def total_vram_bytes(self) -> int:
        return sum(g.vram_total_bytes or 0 for g in self.gpus)

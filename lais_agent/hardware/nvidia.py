"""NVIDIA details through NVML (nvidia-ml-py's ``pynvml``).

The library is reached through a factory so tests replay recorded NVML
answers (``nvml_replay.RecordedNvml``) through this same code. pynvml loads
lazily: machines without NVIDIA GPUs never import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from lais_agent.hardware.profile import Gpu, Issue, NvidiaDriver

COMPONENT = "gpu.nvidia"
NVLINK_MAX_LINKS = 18  # NVML_NVLINK_MAX_LINKS


class Nvml(Protocol):
    """The subset of pynvml's module API the detector uses."""

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlSystemGetDriverVersion(self) -> str: ...
    def nvmlSystemGetCudaDriverVersion(self) -> int: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetName(self, handle: Any) -> str: ...
    def nvmlDeviceGetUUID(self, handle: Any) -> str: ...
    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]: ...
    def nvmlDeviceGetMigMode(self, handle: Any) -> tuple[int, int]: ...
    def nvmlDeviceGetNvLinkState(self, handle: Any, link: int) -> int: ...
    def nvmlDeviceGetNvLinkRemotePciInfo(self, handle: Any, link: int) -> Any: ...


NvmlFactory = Callable[[], Nvml]


def load_pynvml() -> Nvml:
    """The real NVML binding (imported only when an NVIDIA GPU is present)."""
    import pynvml  # noqa: PLC0415 - heavy and optional: loaded on demand

    module: Nvml = pynvml
    return module


@dataclass(frozen=True)
class NvmlDevice:
    pci_bus_id: str
    name: str
    uuid: str | None
    vram_total_bytes: int | None
    vram_free_bytes: int | None
    compute_capability: str | None
    mig_mode: str
    nvlink_peers: tuple[str, ...]


def normalize_bus_id(bus_id: str | bytes) -> str:
    """NVML's "00000000:01:00.0" -> sysfs's "0000:01:00.0" (lower case)."""
    text = bus_id.decode() if isinstance(bus_id, bytes) else bus_id
    domain, _, rest = text.strip().lower().partition(":")
    return f"{int(domain, 16):04x}:{rest}" if rest else text.lower()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _device(nvml: Nvml, index: int, issues: list[Issue]) -> NvmlDevice | None:
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        bus_id = normalize_bus_id(nvml.nvmlDeviceGetPciInfo(handle).busId)
        name = _text(nvml.nvmlDeviceGetName(handle))
    except Exception as exc:  # noqa: BLE001 - NVML raises many error classes
        issues.append(Issue(COMPONENT, f"NVML device {index}: {_error_text(exc)}"))
        return None

    def optional(what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001
            if "Not Supported" not in _error_text(exc):
                issues.append(Issue(COMPONENT, f"{bus_id}: {what}: {_error_text(exc)}"))
            return None

    uuid = optional("UUID", lambda: _text(nvml.nvmlDeviceGetUUID(handle)))
    memory = optional("memory info", lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    capability = optional(
        "compute capability", lambda: nvml.nvmlDeviceGetCudaComputeCapability(handle)
    )
    mig = optional("MIG mode", lambda: nvml.nvmlDeviceGetMigMode(handle))
    peers: list[str] = []
    for link in range(NVLINK_MAX_LINKS):
        try:
            if not nvml.nvmlDeviceGetNvLinkState(handle, link):
                continue
            remote = nvml.nvmlDeviceGetNvLinkRemotePciInfo(handle, link)
        except Exception:  # noqa: BLE001 - no such link, or NVLink unsupported
            break
        peer = normalize_bus_id(remote.busId)
        if peer not in peers:
            peers.append(peer)
    return NvmlDevice(
        pci_bus_id=bus_id,
        name=name,
        uuid=uuid,
        vram_total_bytes=int(memory.total) if memory is not None else None,
        vram_free_bytes=int(memory.free) if memory is not None else None,
        compute_capability=f"{capability[0]}.{capability[1]}" if capability else None,
        mig_mode=("enabled" if mig[0] else "disabled") if mig is not None else "unsupported",
        nvlink_peers=tuple(sorted(peers)),
    )


def probe_nvml(
    factory: NvmlFactory, issues: list[Issue]
) -> tuple[NvidiaDriver | None, list[NvmlDevice]]:
    try:
        nvml = factory()
        nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - ImportError, OSError or NVMLError
        issues.append(Issue(COMPONENT, f"NVML unavailable: {_error_text(exc)}"))
        return None, []
    try:
        driver = cuda = None
        try:
            driver = _text(nvml.nvmlSystemGetDriverVersion())
            raw = int(nvml.nvmlSystemGetCudaDriverVersion())
            cuda = f"{raw // 1000}.{raw % 1000 // 10}"
        except Exception as exc:  # noqa: BLE001
            issues.append(Issue(COMPONENT, f"driver version: {_error_text(exc)}"))
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except Exception as exc:  # noqa: BLE001
            issues.append(Issue(COMPONENT, f"device count: {_error_text(exc)}"))
            count = 0
        devices = [d for i in range(count) if (d := _device(nvml, i, issues)) is not None]
        return NvidiaDriver(driver_version=driver, cuda_driver_version=cuda), devices
    finally:
        with contextlib.suppress(Exception):  # nothing to do if shutdown fails
            nvml.nvmlShutdown()


def merge_nvml(gpus: list[Gpu], devices: list[NvmlDevice]) -> list[Gpu]:
    """Enrich sysfs GPUs with NVML details; keep NVML-only GPUs too."""
    by_bus = {d.pci_bus_id: d for d in devices}
    merged: list[Gpu] = []
    for gpu in gpus:
        dev = by_bus.pop(gpu.pci_bus_id, None)
        if dev is None:
            merged.append(gpu)
            continue
        merged.append(
            replace(
                gpu,
                name=dev.name,
                uuid=dev.uuid,
                vram_total_bytes=dev.vram_total_bytes,
                vram_free_bytes=dev.vram_free_bytes,
                compute_capability=dev.compute_capability,
                mig_mode=dev.mig_mode,
                nvlink_peers=dev.nvlink_peers,
            )
        )
    for dev in by_bus.values():
        merged.append(
            Gpu(
                pci_bus_id=dev.pci_bus_id,
                vendor="nvidia",
                vendor_id="10de",
                device_id="",
                name=dev.name,
                driver="nvidia",
                vram_total_bytes=dev.vram_total_bytes,
                vram_free_bytes=dev.vram_free_bytes,
                uuid=dev.uuid,
                compute_capability=dev.compute_capability,
                mig_mode=dev.mig_mode,
                nvlink_peers=dev.nvlink_peers,
            )
        )
    return merged

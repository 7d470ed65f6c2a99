"""Replay a recorded NVML (``nvml.json``) through the pynvml API surface.

Used by the detector's tests and by ``lais-agent --hardware-root`` to reproduce
a machine someone recorded: the detector runs unchanged, only the library
answers come from the file. Errors are raised as pynvml's own exception classes
(``NVMLError(NVML_ERROR_<NAME>)``), so error handling is exercised too.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def nvml_error(name: str) -> Exception:
    import pynvml  # noqa: PLC0415 - only replays need it

    code = getattr(pynvml, f"NVML_ERROR_{name}", pynvml.NVML_ERROR_UNKNOWN)
    error: Exception = pynvml.NVMLError(code)
    return error


class RecordedNvml:
    """An object with pynvml's function names that answers from a recording."""

    def __init__(self, recording: dict[str, Any]) -> None:
        self._rec = recording
        self._initialized = False

    @classmethod
    def from_file(cls, path: Path) -> RecordedNvml:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        return cls(data)

    def _field(self, handle: dict[str, Any], key: str) -> Any:
        value = handle.get(key, "NOT_SUPPORTED")
        if isinstance(value, str) and value.isupper():
            raise nvml_error(value)
        return value

    def nvmlInit(self) -> None:
        if self._rec.get("init_error"):
            raise nvml_error(str(self._rec["init_error"]))
        self._initialized = True

    def nvmlShutdown(self) -> None:
        self._initialized = False

    def nvmlSystemGetDriverVersion(self) -> str:
        return str(self._rec["driver_version"])

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return int(self._rec["cuda_driver_version"])

    def nvmlDeviceGetCount(self) -> int:
        return len(self._rec.get("devices", []))

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        return self._rec["devices"][index]

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return str(handle["name"])

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        return str(self._field(handle, "uuid"))

    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any:
        return SimpleNamespace(busId=handle["pci_bus_id"])

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any:
        return SimpleNamespace(
            total=self._field(handle, "memory_total"), free=self._field(handle, "memory_free")
        )

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:
        major, minor = self._field(handle, "compute_capability")
        return int(major), int(minor)

    def nvmlDeviceGetMigMode(self, handle: Any) -> tuple[int, int]:
        current, pending = self._field(handle, "mig_mode")
        return int(current), int(pending)

    def _link(self, handle: Any, link: int) -> dict[str, Any]:
        links = self._field(handle, "nvlink")
        for entry in links:
            if entry["link"] == link:
                return dict(entry)
        raise nvml_error("INVALID_ARGUMENT")

    def nvmlDeviceGetNvLinkState(self, handle: Any, link: int) -> int:
        return 1 if self._link(handle, link).get("active") else 0

    def nvmlDeviceGetNvLinkRemotePciInfo(self, handle: Any, link: int) -> Any:
        return SimpleNamespace(busId=self._link(handle, link)["remote_pci_bus_id"])

"""The NVML replay answers and fails the way pynvml does, with pynvml's own error codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pynvml
import pytest

from lais_agent.hardware.nvml_replay import RecordedNvml, nvml_error

DEVICE: dict[str, Any] = {
    "name": "NVIDIA H100",
    "pci_bus_id": "00000000:01:00.0",
    "nvlink": [
        {"link": 0, "active": False, "remote_pci_bus_id": "00000000:02:00.0"},
        {"link": 1, "active": True, "remote_pci_bus_id": "00000000:03:00.0"},
    ],
}


def _code(exc: BaseException) -> int:
    value: int = exc.value  # type: ignore[attr-defined]
    return value


def test_an_unknown_error_name_is_nvml_error_unknown() -> None:
    assert _code(nvml_error("NO_SUCH_ERROR")) == pynvml.NVML_ERROR_UNKNOWN
    assert _code(nvml_error("GPU_IS_LOST")) == pynvml.NVML_ERROR_GPU_IS_LOST


def test_a_field_not_recorded_is_not_supported() -> None:
    nvml = RecordedNvml({"devices": [DEVICE]})
    with pytest.raises(pynvml.NVMLError) as caught:
        nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(0))
    assert _code(caught.value) == pynvml.NVML_ERROR_NOT_SUPPORTED


def test_links_are_found_by_number_and_an_absent_one_is_an_invalid_argument() -> None:
    nvml = RecordedNvml({"devices": [DEVICE]})
    handle = nvml.nvmlDeviceGetHandleByIndex(0)
    assert nvml.nvmlDeviceGetNvLinkState(handle, 0) == 0
    assert nvml.nvmlDeviceGetNvLinkState(handle, 1) == 1
    assert nvml.nvmlDeviceGetNvLinkRemotePciInfo(handle, 1).busId == "00000000:03:00.0"
    with pytest.raises(pynvml.NVMLError) as caught:
        nvml.nvmlDeviceGetNvLinkState(handle, 2)
    assert _code(caught.value) == pynvml.NVML_ERROR_INVALID_ARGUMENT


def test_a_recording_that_is_not_an_object_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "nvml.json"
    path.write_text("[]\n")
    with pytest.raises(ValueError, match="expected a JSON object") as caught:
        RecordedNvml.from_file(path)
    assert str(caught.value) == f"{path}: expected a JSON object"


def test_a_recording_is_utf8_whatever_the_default_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def latin1_default(encoding: str | None, stacklevel: int = 2) -> str:
        return encoding if encoding is not None else "latin-1"

    monkeypatch.setattr("io.text_encoding", latin1_default)  # what Path.read_text asks
    path = tmp_path / "nvml.json"
    path.write_bytes(json.dumps({"driver_version": "550 — ü"}, ensure_ascii=False).encode())
    assert RecordedNvml.from_file(path).nvmlSystemGetDriverVersion() == "550 — ü"

"""NVML answers become exact devices, driver versions and issues; merging keeps every field."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from lais_agent.hardware.nvidia import (
    NvmlDevice,
    merge_nvml,
    normalize_bus_id,
    probe_nvml,
)
from lais_agent.hardware.profile import Gpu, Issue, NvidiaDriver


class NotSupported(Exception):
    def __init__(self) -> None:
        super().__init__("Not Supported")


class FakeNvml:
    """Answers from plain dicts; a value that is an exception instance is raised."""

    def __init__(
        self, devices: list[dict[str, Any]], *, driver: Any = "550.54", cuda: Any = 12040,
        count: Any = None,
    ) -> None:  # fmt: skip
        self.devices = devices
        self.driver = driver
        self.cuda = cuda
        self.count = count

    @staticmethod
    def _answer(value: Any) -> Any:
        if isinstance(value, BaseException):
            raise value
        return value

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlSystemGetDriverVersion(self) -> str:
        return str(self._answer(self.driver))

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return int(self._answer(self.cuda))

    def nvmlDeviceGetCount(self) -> int:
        if self.count is not None:
            return int(self._answer(self.count))
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        return self.devices[index]

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return str(self._answer(handle["name"]))

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        return str(self._answer(handle.get("uuid", NotSupported())))

    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any:
        return SimpleNamespace(busId=handle["bus"])

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any:
        total, free = self._answer(handle.get("memory", NotSupported()))
        return SimpleNamespace(total=total, free=free)

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:
        value: tuple[int, int] = self._answer(handle.get("cc", NotSupported()))
        return value

    def nvmlDeviceGetMigMode(self, handle: Any) -> tuple[int, int]:
        value: tuple[int, int] = self._answer(handle.get("mig", NotSupported()))
        return value

    def nvmlDeviceGetNvLinkState(self, handle: Any, link: int) -> int:
        links = handle.get("links", [])
        if link >= len(links):
            raise NotSupported()
        return 1 if links[link] else 0

    def nvmlDeviceGetNvLinkRemotePciInfo(self, handle: Any, link: int) -> Any:
        return SimpleNamespace(busId=handle["links"][link])


FULL: dict[str, Any] = {
    "bus": "00000000:01:00.0",
    "name": "NVIDIA H100",
    "uuid": "GPU-1",
    "memory": (80 * 2**30, 79 * 2**30),
    "cc": (9, 0),
    "mig": (1, 0),
    "links": [None, "00000000:02:00.0", "00000000:02:00.0", "00000000:03:00.0"],
}


def test_every_answer_becomes_a_field() -> None:
    issues: list[Issue] = []
    driver, devices = probe_nvml(lambda: FakeNvml([FULL]), issues)
    assert driver == NvidiaDriver("550.54", "12.4")
    assert devices == [
        NvmlDevice(
            pci_bus_id="0000:01:00.0",
            name="NVIDIA H100",
            uuid="GPU-1",
            vram_total_bytes=80 * 2**30,
            vram_free_bytes=79 * 2**30,
            compute_capability="9.0",
            mig_mode="enabled",
            nvlink_peers=("0000:02:00.0", "0000:03:00.0"),
        )
    ]
    assert issues == []


def test_mig_disabled_reads_the_current_mode_not_the_pending_one() -> None:
    device = {**FULL, "mig": (0, 1)}
    _, devices = probe_nvml(lambda: FakeNvml([device]), [])
    assert devices[0].mig_mode == "disabled"


def test_unsupported_answers_are_none_without_issues() -> None:
    issues: list[Issue] = []
    _, devices = probe_nvml(
        lambda: FakeNvml([{"bus": "00000000:01:00.0", "name": "Tesla K80"}]), issues
    )
    assert devices == [
        NvmlDevice("0000:01:00.0", "Tesla K80", None, None, None, None, "unsupported", ())
    ]
    assert issues == []


def test_each_failing_optional_answer_is_an_issue_named_by_what_failed() -> None:
    device = {
        "bus": "00000000:01:00.0",
        "name": "NVIDIA A100",
        "uuid": RuntimeError("Unknown Error"),
        "memory": RuntimeError("GPU is lost"),
        "cc": RuntimeError("Timeout"),
        "mig": RuntimeError(),
    }
    issues: list[Issue] = []
    _, devices = probe_nvml(lambda: FakeNvml([device]), issues)
    assert devices == [
        NvmlDevice("0000:01:00.0", "NVIDIA A100", None, None, None, None, "unsupported", ())
    ]
    assert issues == [
        Issue("gpu.nvidia", "0000:01:00.0: UUID: Unknown Error"),
        Issue("gpu.nvidia", "0000:01:00.0: memory info: GPU is lost"),
        Issue("gpu.nvidia", "0000:01:00.0: compute capability: Timeout"),
        Issue("gpu.nvidia", "0000:01:00.0: MIG mode: RuntimeError"),
    ]


def test_a_device_that_cannot_be_named_is_skipped_with_an_issue() -> None:
    devices_in: list[dict[str, Any]] = [{"bus": "00000000:01:00.0", "name": ValueError()}, FULL]
    issues: list[Issue] = []
    _, devices = probe_nvml(lambda: FakeNvml(devices_in), issues)
    assert [d.name for d in devices] == ["NVIDIA H100"]
    assert issues == [Issue("gpu.nvidia", "NVML device 0: ValueError")]


def test_a_failing_driver_version_leaves_both_versions_unknown() -> None:
    issues: list[Issue] = []
    driver, devices = probe_nvml(lambda: FakeNvml([], driver=RuntimeError("Uninitialized")), issues)
    assert driver == NvidiaDriver(None, None)
    assert devices == []
    assert issues == [Issue("gpu.nvidia", "driver version: Uninitialized")]


def test_cuda_driver_version_is_major_dot_minor() -> None:
    driver, _ = probe_nvml(lambda: FakeNvml([], cuda=12000), [])
    assert driver == NvidiaDriver("550.54", "12.0")
    driver, _ = probe_nvml(lambda: FakeNvml([], cuda=11080), [])
    assert driver == NvidiaDriver("550.54", "11.8")


def test_a_failing_device_count_means_no_devices() -> None:
    issues: list[Issue] = []
    _, devices = probe_nvml(lambda: FakeNvml([FULL], count=RuntimeError("No Permission")), issues)
    assert devices == []
    assert issues == [Issue("gpu.nvidia", "device count: No Permission")]


def test_nvml_unavailable_is_one_issue() -> None:
    def factory() -> FakeNvml:
        raise OSError()

    issues: list[Issue] = []
    assert probe_nvml(factory, issues) == (None, [])
    assert issues == [Issue("gpu.nvidia", "NVML unavailable: OSError")]


def test_bus_ids_are_normalized_to_the_sysfs_form() -> None:
    assert normalize_bus_id("00000000:01:00.0") == "0000:01:00.0"
    assert normalize_bus_id(b"00000010:0A:00.0") == "0010:0a:00.0"
    assert normalize_bus_id("0000000A:01:00.0") == "000a:01:00.0"
    assert normalize_bus_id("  GPU-XYZ ") == "  gpu-xyz "


def _sysfs_gpu(bus: str, **fields: Any) -> Gpu:
    return Gpu(
        pci_bus_id=bus, vendor="nvidia", vendor_id="10de", device_id="2330",
        name="GH100 [H100 SXM5 80GB]", driver="nvidia", numa_node=0, **fields,
    )  # fmt: skip


DEV = NvmlDevice(
    pci_bus_id="0000:02:00.0",
    name="NVIDIA H100 80GB HBM3",
    uuid="GPU-2",
    vram_total_bytes=80 * 2**30,
    vram_free_bytes=70 * 2**30,
    compute_capability="9.0",
    mig_mode="disabled",
    nvlink_peers=("0000:03:00.0",),
)


def test_merge_enriches_the_matching_sysfs_gpu_and_keeps_the_others() -> None:
    alone = _sysfs_gpu("0000:01:00.0")
    matched = _sysfs_gpu("0000:02:00.0")
    assert merge_nvml([alone, matched], [DEV]) == [
        alone,
        Gpu(
            pci_bus_id="0000:02:00.0",
            vendor="nvidia",
            vendor_id="10de",
            device_id="2330",
            name="NVIDIA H100 80GB HBM3",
            driver="nvidia",
            vram_total_bytes=80 * 2**30,
            vram_free_bytes=70 * 2**30,
            numa_node=0,
            uuid="GPU-2",
            compute_capability="9.0",
            nvlink_peers=("0000:03:00.0",),
            mig_mode="disabled",
        ),
    ]


def test_an_nvml_only_gpu_is_kept_as_an_nvidia_gpu() -> None:
    assert merge_nvml([], [DEV]) == [
        Gpu(
            pci_bus_id="0000:02:00.0",
            vendor="nvidia",
            vendor_id="10de",
            device_id="",
            name="NVIDIA H100 80GB HBM3",
            driver="nvidia",
            vram_total_bytes=80 * 2**30,
            vram_free_bytes=70 * 2**30,
            uuid="GPU-2",
            compute_capability="9.0",
            nvlink_peers=("0000:03:00.0",),
            mig_mode="disabled",
        )
    ]

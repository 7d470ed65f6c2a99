"""The real detector against recorded machines (tests/fixtures/hardware/*).

Each fixture is checked twice: explicit assertions of the facts its
expected-summary.txt states, and a golden file of the whole profile
(regenerate with LAIS_UPDATE_GOLDEN=1 after reviewing the diff).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path

import pytest

from lais_agent.hardware.detect import ProbeSources, detect
from lais_agent.hardware.nvidia import load_pynvml
from lais_agent.hardware.nvml_replay import RecordedNvml
from lais_agent.hardware.profile import HardwareProfile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/hardware"
NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
GiB = 1024**3


def _never_called() -> RecordedNvml:
    raise AssertionError("NVML must not be loaded on a machine without NVIDIA GPUs")


def probe(name: str) -> HardwareProfile:
    root = FIXTURES / name
    recording = root / "nvml.json"
    factory = (
        functools.partial(RecordedNvml.from_file, recording)
        if recording.exists()
        else _never_called
    )
    return detect(ProbeSources(root=root, store_stat_path=root, nvml_factory=factory))


def _golden_view(profile: HardwareProfile) -> dict[str, object]:
    data = dataclasses.asdict(profile)
    storage = data["storage"]
    assert isinstance(storage, dict)
    storage.pop("total_bytes")  # statvfs of the test's temp dir, not recorded
    storage.pop("free_bytes")
    data["issues"] = [
        {**i, "message": i["message"].replace(str(FIXTURES), "<fixtures>")}
        for i in data["issues"]  # type: ignore[attr-defined]
    ]
    return json.loads(json.dumps(data))  # type: ignore[no-any-return]


def test_all_six_fixtures_are_present() -> None:
    assert NAMES == [
        "a100x2-nvlink",
        "arc-a770",
        "laptop-cpu-only",
        "nvidia-no-driver",
        "rtx4090",
        "rx7900xtx",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_profile_matches_golden(name: str) -> None:
    golden = FIXTURES / name / "expected-profile.json"
    view = _golden_view(probe(name))
    if os.environ.get("LAIS_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(view, indent=2, sort_keys=True) + "\n")
    assert view == json.loads(golden.read_text())


def test_laptop_cpu_only() -> None:
    p = probe("laptop-cpu-only")
    assert p.cpu.model == "12th Gen Intel(R) Core(TM) i7-1260P"
    assert (p.cpu.sockets, p.cpu.physical_cores, p.cpu.logical_cores, p.cpu.numa_nodes) == (
        1,
        12,
        16,
        1,
    )
    assert "avx2" in p.cpu.isa
    assert not any(f.startswith("avx512") for f in p.cpu.isa)
    assert [(g.vendor, g.driver, g.vram_total_bytes) for g in p.gpus] == [("intel", "i915", None)]
    assert p.nvidia is None
    assert (p.os.id, p.os.version_id, p.os.codename) == ("ubuntu", "24.04", "noble")
    assert p.os.secure_boot == "enabled"
    assert p.os.virtualization == "none"
    assert p.os.container is None
    assert p.issues == ()


def test_rtx4090() -> None:
    p = probe("rtx4090")
    (gpu,) = p.gpus
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert gpu.driver == "nvidia"
    assert gpu.vram_total_bytes == 25757220864
    assert gpu.compute_capability == "8.9"
    assert gpu.mig_mode == "unsupported"
    assert gpu.nvlink_peers == ()
    assert gpu.uuid is not None
    assert gpu.uuid.startswith("GPU-")
    assert p.nvidia is not None
    assert p.nvidia.cuda_driver_version == "12.4"
    assert "avx512f" in p.cpu.isa
    assert (p.cpu.physical_cores, p.cpu.logical_cores) == (16, 32)
    assert p.os.codename == "jammy"
    assert p.os.secure_boot == "disabled"
    assert p.issues == ()


def test_two_a100_with_nvlink() -> None:
    p = probe("a100x2-nvlink")
    assert len(p.gpus) == 2
    first, second = p.gpus
    assert {g.name for g in p.gpus} == {"NVIDIA A100-SXM4-80GB"}
    assert first.nvlink_peers == (second.pci_bus_id,)
    assert second.nvlink_peers == (first.pci_bus_id,)
    assert all(g.mig_mode == "disabled" and g.compute_capability == "8.0" for g in p.gpus)
    assert p.total_vram_bytes == 2 * 80 * GiB
    assert (p.cpu.sockets, p.cpu.physical_cores, p.cpu.logical_cores, p.cpu.numa_nodes) == (
        2,
        112,
        224,
        2,
    )
    assert {"amx_tile", "amx_bf16", "amx_int8", "avx512_bf16"} <= set(p.cpu.isa)
    assert (p.storage.mount_point, p.storage.filesystem) == ("/var/lib/localaistack", "xfs")
    assert p.os.id == "debian"
    assert p.os.version_id == "12"
    assert p.issues == ()


def test_rx7900xtx_vram_from_sysfs() -> None:
    p = probe("rx7900xtx")
    (gpu,) = p.gpus
    assert (gpu.vendor, gpu.driver, gpu.device_id) == ("amd", "amdgpu", "744c")
    assert gpu.vram_total_bytes == 25753026560
    assert gpu.vram_free_bytes == 25753026560 - 486539264
    assert gpu.render_node == "/dev/dri/renderD128"
    assert gpu.name == "AMD GPU 1002:744c"  # no pci.ids in this fixture
    assert p.nvidia is None
    assert p.issues == ()


def test_arc_a770_named_from_pci_ids_without_vram() -> None:
    p = probe("arc-a770")
    (gpu,) = p.gpus
    assert (gpu.vendor, gpu.driver) == ("intel", "i915")
    assert gpu.name == "DG2 [Arc A770]"
    assert gpu.vram_total_bytes is None
    assert p.os.codename == "trixie"
    assert p.issues == ()


def test_nvidia_without_driver_says_so() -> None:
    p = probe("nvidia-no-driver")
    (gpu,) = p.gpus
    assert gpu.vendor == "nvidia"
    assert gpu.driver is None
    assert gpu.vram_total_bytes is None
    messages = [f"{i.component}: {i.message}" for i in p.issues]
    assert any("NVML unavailable: Driver Not Loaded" in m for m in messages), messages
    assert any("has no kernel driver bound" in m for m in messages), messages
    assert p.nvidia is None
    assert p.os.container == "systemd-nspawn"
    assert p.os.secure_boot == "unsupported"


def test_real_pynvml_without_its_library_reports_an_issue_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real pynvml module, on a machine where libnvidia-ml cannot be loaded: NVML init
    fails cleanly. The failing load is injected, so a runner with a working NVIDIA driver
    (or without any) gets the same answer."""
    import pynvml

    def no_library(name: str, *args: object, **kwargs: object) -> object:
        raise OSError(f"{name}: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(pynvml, "nvmlLib", None)  # not loaded yet, whatever ran before
    monkeypatch.setattr(pynvml, "CDLL", no_library)
    root = FIXTURES / "nvidia-no-driver"
    p = detect(ProbeSources(root=root, store_stat_path=tmp_path, nvml_factory=load_pynvml))
    nvml = [i.message for i in p.issues if i.component == "gpu.nvidia" and "NVML" in i.message]
    assert nvml == ["NVML unavailable: NVML Shared Library Not Found"]
    assert p.nvidia is None

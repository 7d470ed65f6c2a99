"""Detection never crashes: missing files, odd contents and broken libraries become issues."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lais_agent.hardware.cpu import parse_cpuinfo
from lais_agent.hardware.detect import ProbeSources, detect
from lais_agent.hardware.memory import parse_meminfo
from lais_agent.hardware.nvidia import Nvml, normalize_bus_id
from lais_agent.hardware.storage import find_mount
from lais_agent.hardware.system import parse_os_release

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/hardware"


def _no_nvml() -> Nvml:
    raise ImportError("No module named 'pynvml'")


def test_empty_root_gives_a_profile_full_of_issues(tmp_path: Path) -> None:
    profile = detect(ProbeSources(root=tmp_path, store_stat_path=tmp_path, nvml_factory=_no_nvml))
    assert profile.cpu.logical_cores is None
    assert profile.memory.total_bytes is None
    assert profile.gpus == ()
    components = {i.component for i in profile.issues}
    assert {"cpu", "memory", "storage", "os", "gpu.nvidia"} <= components
    # storage still measured its directory
    assert profile.storage.free_bytes is not None


def test_odd_device_files_are_reported_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "m"
    shutil.copytree(FIXTURES / "rx7900xtx", root, symlinks=True)
    dev = root / "sys/bus/pci/devices/0000:03:00.0"
    (dev / "mem_info_vram_total").write_text("lots\n")
    (dev / "numa_node").unlink()
    (dev / "numa_node").mkdir()  # a directory where a file should be: EISDIR
    odd = root / "sys/bus/pci/devices/0000:09:00.0"
    odd.mkdir()
    (odd / "class").write_text("0x030000\n")
    (odd / "vendor").write_text("garbage\n")
    profile = detect(ProbeSources(root=root, store_stat_path=root, nvml_factory=_no_nvml))
    (gpu,) = profile.gpus
    assert gpu.vram_total_bytes is None
    messages = " | ".join(i.message for i in profile.issues)
    assert "not an integer" in messages
    assert "cannot read" in messages
    assert "0000:09:00.0: vendor or device id unreadable" in messages


def test_missing_nvml_library_is_an_issue(tmp_path: Path) -> None:
    root = FIXTURES / "rtx4090"
    profile = detect(ProbeSources(root=root, store_stat_path=tmp_path, nvml_factory=_no_nvml))
    (gpu,) = profile.gpus
    assert gpu.driver == "nvidia"
    assert gpu.vram_total_bytes is None
    assert any("NVML unavailable: No module named 'pynvml'" in i.message for i in profile.issues)


def test_cpuinfo_parse_counts_topology() -> None:
    text = "".join(
        f"processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: X\nphysical id\t: {i // 4}\n"
        f"core id\t\t: {i % 4 // 2}\nflags\t\t: fpu lm avx2 amx_tile\n\n"
        for i in range(8)
    )
    model, vendor, arch, sockets, physical, logical, flags = parse_cpuinfo(text)
    assert (model, vendor, arch) == ("X", "GenuineIntel", "x86_64")
    assert (sockets, physical, logical) == (2, 4, 8)
    assert {"avx2", "amx_tile"} <= flags


def test_arm_cpuinfo() -> None:
    text = (
        "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd sve i8mm bf16\n"
        "CPU implementer\t: 0x41\n\nprocessor\t: 1\nFeatures\t: fp asimd sve i8mm bf16\n"
        "CPU implementer\t: 0x41\n"
    )
    _, _, arch, sockets, physical, logical, flags = parse_cpuinfo(text)
    assert (arch, sockets, physical, logical) == ("aarch64", 1, 2, 2)
    assert {"sve", "i8mm"} <= flags


def test_meminfo_and_os_release() -> None:
    assert parse_meminfo("MemTotal:  2 kB\nHugePages_Total: 0\nbad line\n") == {
        "MemTotal": 2048,
        "HugePages_Total": 0,
    }
    release = parse_os_release(
        'ID=ubuntu\nVERSION_ID="24.04"\n# c\nPRETTY_NAME="Ubuntu 24.04 LTS"\n'
    )
    assert release == {"ID": "ubuntu", "VERSION_ID": "24.04", "PRETTY_NAME": "Ubuntu 24.04 LTS"}


def test_mounts_longest_prefix_and_escapes() -> None:
    mounts = (
        "/dev/sda1 / ext4 rw 0 0\n"
        "/dev/sdb1 /var/lib xfs rw 0 0\n"
        "/dev/sdc1 /var/lib/local\\040ai btrfs rw 0 0\n"
        "/dev/sdd1 /var/lib/localaistack2 ext4 rw 0 0\n"
    )
    assert find_mount(mounts, "/var/lib/localaistack/models") == ("/var/lib", "xfs", "/dev/sdb1")
    assert find_mount(mounts, "/var/lib/local ai/x") == ("/var/lib/local ai", "btrfs", "/dev/sdc1")
    assert find_mount(mounts, "/home") == ("/", "ext4", "/dev/sda1")


def test_nvml_bus_ids_normalize_to_sysfs_form() -> None:
    assert normalize_bus_id(b"00000000:9B:00.0") == "0000:9b:00.0"
    assert normalize_bus_id("0000:01:00.0") == "0000:01:00.0"


@settings(max_examples=200)
@given(st.text())
def test_parsers_never_raise_on_any_text(text: str) -> None:
    parse_cpuinfo(text)
    parse_meminfo(text)
    parse_os_release(text)
    find_mount(text, "/var/lib/localaistack/models")

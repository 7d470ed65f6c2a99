"""CPU parsing: each /proc/cpuinfo shape gives exactly its model, vendor, architecture, counts."""

from __future__ import annotations

from pathlib import Path

from lais_agent.hardware.cpu import parse_cpuinfo, probe_cpu
from lais_agent.hardware.profile import Cpu, Issue

X86_ONE = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu lm avx2 fma

"""


def test_a_single_x86_64_processor() -> None:
    assert parse_cpuinfo(X86_ONE) == (
        "Intel(R) Xeon(R) CPU @ 2.20GHz",
        "GenuineIntel",
        "x86_64",
        1,
        1,
        1,
        {"fpu", "lm", "avx2", "fma"},
    )


def test_a_model_name_with_a_colon_keeps_all_after_the_first_colon() -> None:
    text = "processor : 0\nvendor_id : AuthenticAMD\nmodel name : Ryzen: 9 7950X\nflags : lm\n"
    assert parse_cpuinfo(text)[0] == "Ryzen: 9 7950X"


def test_without_lm_the_architecture_is_32_bit_x86() -> None:
    text = "processor : 0\nvendor_id : GenuineIntel\nflags : fpu sse2\n"
    assert parse_cpuinfo(text)[2] == "x86"


def test_flags_without_a_vendor_are_still_x86() -> None:
    text = "processor : 0\nflags : fpu lm\n"
    assert parse_cpuinfo(text) == (None, None, "x86_64", 1, 1, 1, {"fpu", "lm"})


def test_a_vendor_without_flags_is_x86() -> None:
    text = "processor : 0\nvendor_id : GenuineIntel\n"
    assert parse_cpuinfo(text) == (None, "GenuineIntel", "x86", 1, 1, 1, set())


def test_arm_features_and_the_model_from_the_trailing_header_block() -> None:
    text = (
        "processor : 0\nBogoMIPS : 108.00\nFeatures : fp asimd\nCPU implementer : 0x41\n\n"
        "processor : 1\nBogoMIPS : 108.00\nFeatures : fp asimd\nCPU implementer : 0x41\n\n"
        "Hardware : BCM2835\nRevision : c03111\nModel : Raspberry Pi 4 Model B Rev 1.1\n"
    )
    assert parse_cpuinfo(text) == (
        "Raspberry Pi 4 Model B Rev 1.1",
        None,
        "aarch64",
        1,
        2,
        2,
        {"fp", "asimd"},
    )


def test_the_hardware_line_names_the_model_when_there_is_no_model_line() -> None:
    text = "processor : 0\nFeatures : fp\n\nHardware : Qualcomm Technologies, Inc SM8150\n"
    assert parse_cpuinfo(text)[0] == "Qualcomm Technologies, Inc SM8150"


def test_keys_inside_processor_blocks_are_not_header_keys() -> None:
    text = "processor : 0\nFeatures : fp\nHardware : inside\nModel : inside too\n"
    assert parse_cpuinfo(text)[0] is None


def test_cpu_implementer_alone_is_aarch64() -> None:
    text = "processor : 0\nCPU implementer : 0x41\n"
    assert parse_cpuinfo(text) == (None, None, "aarch64", 1, 1, 1, set())


def test_features_alone_is_aarch64() -> None:
    text = "processor : 0\nFeatures : fp asimd\n"
    assert parse_cpuinfo(text)[2] == "aarch64"


def test_neither_flags_features_vendor_nor_implementer_is_an_unknown_architecture() -> None:
    text = "processor : 0\nBogoMIPS : 50.00\n"
    assert parse_cpuinfo(text) == (None, None, None, 1, 1, 1, set())


def test_sockets_and_cores_are_counted_by_physical_and_core_id() -> None:
    blocks = []
    for n, (phys, core) in enumerate([(0, 0), (0, 0), (0, 1), (1, 0)]):
        blocks.append(
            f"processor : {n}\nvendor_id : GenuineIntel\nphysical id : {phys}\n"
            f"core id : {core}\nflags : lm\n"
        )
    assert parse_cpuinfo("\n".join(blocks))[3:6] == (2, 3, 4)


def _root_with_nodes(tmp_path: Path, count: int) -> Path:
    node_dir = tmp_path / "sys/devices/system/node"
    node_dir.mkdir(parents=True)
    for n in range(count):
        (node_dir / f"node{n}").mkdir()
    (node_dir / "possible").write_text("0-1\n")
    return tmp_path


def test_no_cpuinfo_still_counts_numa_nodes(tmp_path: Path) -> None:
    root = _root_with_nodes(tmp_path, 2)
    issues: list[Issue] = []
    cpu = probe_cpu(root, issues)
    assert cpu == Cpu(None, None, None, None, None, None, (), 2)
    assert issues == [Issue("cpu", f"{root / 'proc/cpuinfo'} does not exist")]


def test_a_cpuinfo_without_processors_is_an_issue_and_counts_nothing(tmp_path: Path) -> None:
    root = _root_with_nodes(tmp_path, 1)
    (root / "proc").mkdir()
    (root / "proc/cpuinfo").write_text("Hardware : BCM2835\n")
    issues: list[Issue] = []
    cpu = probe_cpu(root, issues)
    assert cpu == Cpu("BCM2835", None, None, None, None, None, (), 1)
    assert issues == [Issue("cpu", "/proc/cpuinfo lists no processors")]


def test_one_processor_is_not_an_issue(tmp_path: Path) -> None:
    root = _root_with_nodes(tmp_path, 1)
    (root / "proc").mkdir()
    (root / "proc/cpuinfo").write_text(X86_ONE)
    issues: list[Issue] = []
    cpu = probe_cpu(root, issues)
    assert cpu == Cpu(
        "Intel(R) Xeon(R) CPU @ 2.20GHz", "GenuineIntel", "x86_64", 1, 1, 1, ("avx2", "fma"), 1
    )
    assert issues == []


def test_no_numa_nodes_is_an_issue(tmp_path: Path) -> None:
    issues: list[Issue] = []
    cpu = probe_cpu(tmp_path, issues)
    assert cpu.numa_nodes is None
    node_dir = tmp_path / "sys/devices/system/node"
    assert Issue("cpu", f"no NUMA nodes listed under {node_dir}") in issues

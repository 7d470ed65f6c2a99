"""Which GPUs count as accelerators: a bound driver, a known VRAM size, at least 4 GiB."""

from __future__ import annotations

from lais_agent.hardware.profile import Cpu, Gpu, HardwareProfile, Memory, Os, Storage
from lais_agent.policy.facts import GiB, facts_from


def machine(*gpus: Gpu) -> HardwareProfile:
    return HardwareProfile(
        cpu=Cpu("cpu", "GenuineIntel", "x86_64", 1, 8, 16, ("avx2",), 1),
        memory=Memory(32 * GiB, 16 * GiB, 0, 0),
        storage=Storage("/var/lib/localaistack/models", "/", "ext4", "/dev/sda1", 0, 0),
        gpus=gpus,
        os=Os("debian", "12", "bookworm", "Debian 12", "6.1.0", "none", None, "disabled"),
        nvidia=None,
    )


def card(bus_id: str, vram_bytes: int | None, driver: str | None = "amdgpu") -> Gpu:
    return Gpu(bus_id, "amd", "1002", "7340", "Radeon", driver, vram_total_bytes=vram_bytes)


def test_a_2_gib_gpu_does_not_count_and_the_note_says_why() -> None:
    facts = facts_from(machine(card("0000:03:00.0", 2 * GiB)))
    assert (facts.gpu_count, facts.vram_per_gpu_gib, facts.gpu_vendors) == (0, 0.0, frozenset())
    assert facts.notes == ("Radeon (0000:03:00.0) does not count: 2.0 GiB VRAM",)


def test_a_gpu_with_exactly_4_gib_counts() -> None:
    facts = facts_from(machine(card("0000:03:00.0", 4 * GiB)))
    assert (facts.gpu_count, facts.vram_per_gpu_gib, facts.notes) == (1, 4.0, ())
    assert facts.gpu_vendors == {"amd"}


def test_one_byte_under_4_gib_does_not_count() -> None:
    facts = facts_from(machine(card("0000:03:00.0", 4 * GiB - 1)))
    assert facts.gpu_count == 0
    assert facts.notes == ("Radeon (0000:03:00.0) does not count: 4.0 GiB VRAM",)


def test_a_small_igpu_next_to_a_big_card_leaves_only_the_card() -> None:
    facts = facts_from(machine(card("0000:00:02.0", 512 * 1024**2), card("0000:01:00.0", 16 * GiB)))
    assert (facts.gpu_count, facts.vram_per_gpu_gib, facts.vram_total_gib) == (1, 16.0, 16.0)
    assert facts.notes == ("Radeon (0000:00:02.0) does not count: 0.5 GiB VRAM",)


def test_no_driver_or_unknown_vram_does_not_count() -> None:
    facts = facts_from(
        machine(card("0000:01:00.0", 16 * GiB, driver=None), card("0000:02:00.0", None))
    )
    assert facts.gpu_count == 0
    assert facts.notes == (
        "Radeon (0000:01:00.0) does not count: no driver bound",
        "Radeon (0000:02:00.0) does not count: its VRAM size is unknown",
    )

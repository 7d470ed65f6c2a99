"""pci.ids parsing, display-device enumeration and the never-raising file readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lais_agent.hardware.pci import PciIds, probe_pci_gpus
from lais_agent.hardware.profile import Gpu, Issue
from lais_agent.hardware.sources import read_int, read_text

WANTED = {("10de", "2684"), ("1002", "744c")}


def test_names_come_from_the_wanted_vendor_and_device_only() -> None:
    text = (
        "# pci.ids\n"
        "\n"
        "1002  Advanced Micro Devices, Inc. [AMD/ATI]\n"
        "\t744c  Navi 31 [Radeon RX 7900 XT/7900 XTX]\n"
        "10de  NVIDIA Corporation\n"
        "# a comment between a vendor and its devices\n"
        "\n"
        "\t2684  AD102 [GeForce RTX 4090]\n"
        "\t\t10de 167c  subsystem line\n"
        "\t2685  AD102 [another]\n"
    )
    assert PciIds.parse(text, WANTED).names == {
        ("1002", "744c"): "Navi 31 [Radeon RX 7900 XT/7900 XTX]",
        ("10de", "2684"): "AD102 [GeForce RTX 4090]",
    }


def test_upper_case_ids_in_the_database_are_matched() -> None:
    text = "10DE  NVIDIA Corporation\n\t2684  AD102\n"
    assert PciIds.parse(text, WANTED).names == {("10de", "2684"): "AD102"}


def test_a_name_after_a_single_space_keeps_its_first_letter() -> None:
    text = "10de  NVIDIA Corporation\n\t2684 AD102\n"
    assert PciIds.parse(text, WANTED).names == {("10de", "2684"): "AD102"}


def test_the_class_section_ends_the_vendor_list() -> None:
    text = (
        "10de  NVIDIA Corporation\n\t2684  AD102\n"
        "C 03  Display controller\n\t00  VGA compatible controller\n"
        "10de  not a vendor any more\n\t2684  wrong\n"
    )
    assert PciIds.parse(text, WANTED).names == {("10de", "2684"): "AD102"}


def _device(root: Path, bus: str, pci_class: str, vendor: str, device: str) -> Path:
    d = root / "sys/bus/pci/devices" / bus
    d.mkdir(parents=True)
    (d / "class").write_text(pci_class + "\n")
    if vendor:
        (d / "vendor").write_text(vendor + "\n")
    (d / "device").write_text(device + "\n")
    return d


def test_only_readable_display_devices_are_gpus_and_unknown_vendors_are_other(
    tmp_path: Path,
) -> None:
    _device(tmp_path, "0000:00:00.0", "0x060000", "0x8086", "0x4660")  # host bridge
    _device(tmp_path, "0000:01:00.0", "0x030000", "", "0x2000")  # vendor unreadable
    _device(tmp_path, "0000:02:00.0", "0x030000", "0x1a03", "0x2000")  # ASPEED
    issues: list[Issue] = []
    assert probe_pci_gpus(tmp_path, issues) == [
        Gpu(
            pci_bus_id="0000:02:00.0",
            vendor="other",
            vendor_id="1a03",
            device_id="2000",
            name="Unknown vendor GPU 1a03:2000",
            driver=None,
        )
    ]
    assert issues == [Issue("gpu.pci", "0000:01:00.0: vendor or device id unreadable")]


def test_undecodable_bytes_are_replaced_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"ok \xff\xfe end\n")
    issues: list[Issue] = []
    assert read_text(path, issues, "cpu") == "ok \ufffd\ufffd end\n"
    assert issues == []


def test_files_are_read_as_utf8_whatever_the_default_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def latin1_default(encoding: str | None, stacklevel: int = 2) -> str:
        return encoding if encoding is not None else "latin-1"

    monkeypatch.setattr("io.text_encoding", latin1_default)  # what Path.read_text asks
    path = tmp_path / "os-release"
    path.write_bytes('PRETTY_NAME="Débian — 13"\n'.encode())
    assert read_text(path, [], "os") == 'PRETTY_NAME="Débian — 13"\n'


def test_an_unreadable_file_is_an_issue_with_the_reason(tmp_path: Path) -> None:
    issues: list[Issue] = []
    assert read_text(tmp_path, issues, "cpu") is None
    assert issues == [Issue("cpu", f"cannot read {tmp_path}: Is a directory")]


def test_an_error_without_strerror_is_named_by_its_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: Path, **_: object) -> str:
        raise PermissionError()

    monkeypatch.setattr(Path, "read_text", fail)
    issues: list[Issue] = []
    assert read_text(tmp_path / "x", issues, "cpu") is None
    assert issues == [Issue("cpu", f"cannot read {tmp_path / 'x'}: PermissionError")]


def test_a_non_integer_file_quotes_its_first_40_characters(tmp_path: Path) -> None:
    path = tmp_path / "numa_node"
    path.write_text("x" * 39 + "yz" + "\n")
    issues: list[Issue] = []
    assert read_int(path, issues, "gpu.pci") is None
    assert issues == [Issue("gpu.pci", f"{path} holds {'x' * 39 + 'y'!r}, not an integer")]

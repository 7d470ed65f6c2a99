"""Display-class PCI devices (GPUs of every vendor) from sysfs.

This is the base enumeration for all GPUs; NVML later adds NVIDIA details.
AMD VRAM comes from amdgpu's ``mem_info_vram_*`` files where present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lais_agent.hardware.profile import Gpu, Issue
from lais_agent.hardware.sources import link_name, list_dir, read_int, read_text

COMPONENT = "gpu.pci"

VENDORS = {"10de": "nvidia", "1002": "amd", "8086": "intel"}
VENDOR_LABELS = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel", "other": "Unknown vendor"}
PCI_IDS_PATHS = ("usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids")


@dataclass(frozen=True)
class PciIds:
    """Device names from the pci.ids database: {(vendor, device): name}."""

    names: dict[tuple[str, str], str]

    @classmethod
    def parse(cls, text: str, wanted: set[tuple[str, str]]) -> PciIds:
        names: dict[tuple[str, str], str] = {}
        vendors = {v for v, _ in wanted}
        vendor: str | None = None
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            if line.startswith("C "):  # device classes follow the vendor list
                break
            if not line.startswith("\t"):
                vendor = line[:4].lower() if line[:4].lower() in vendors else None
            elif vendor and not line.startswith("\t\t"):
                device = line[1:5].lower()
                if (vendor, device) in wanted:
                    names[(vendor, device)] = line[5:].strip()
        return cls(names)


def _hex_id(path: Path, issues: list[Issue]) -> str | None:
    value = read_int(path, issues, COMPONENT)
    return None if value is None else f"{value:04x}"


def _render_node(device_dir: Path, issues: list[Issue]) -> str | None:
    for entry in list_dir(device_dir / "drm", issues, COMPONENT):
        if entry.name.startswith("renderD"):
            return f"/dev/dri/{entry.name}"
    return None


def _load_pci_ids(root: Path, wanted: set[tuple[str, str]], issues: list[Issue]) -> PciIds:
    for rel in PCI_IDS_PATHS:
        text = read_text(root / rel, issues, COMPONENT, required=False)
        if text is not None:
            return PciIds.parse(text, wanted)
    return PciIds({})


def probe_pci_gpus(root: Path, issues: list[Issue]) -> list[Gpu]:
    devices_dir = root / "sys/bus/pci/devices"
    found: list[tuple[Path, str, str, str]] = []
    for device_dir in list_dir(devices_dir, issues, COMPONENT):
        pci_class = read_int(device_dir / "class", issues, COMPONENT)
        if pci_class is None or pci_class >> 16 != 0x03:  # 0x03xxxx: display controller
            continue
        vendor_id = _hex_id(device_dir / "vendor", issues)
        device_id = _hex_id(device_dir / "device", issues)
        if vendor_id is None or device_id is None:
            issues.append(Issue(COMPONENT, f"{device_dir.name}: vendor or device id unreadable"))
            continue
        found.append((device_dir, device_dir.name, vendor_id, device_id))
    names = _load_pci_ids(root, {(v, d) for _, _, v, d in found}, issues)
    gpus: list[Gpu] = []
    for device_dir, bus_id, vendor_id, device_id in found:
        vendor = VENDORS.get(vendor_id, "other")
        vram_total = read_int(device_dir / "mem_info_vram_total", issues, COMPONENT)
        vram_used = read_int(device_dir / "mem_info_vram_used", issues, COMPONENT)
        numa = read_int(device_dir / "numa_node", issues, COMPONENT)
        name = names.names.get((vendor_id, device_id)) or (
            f"{VENDOR_LABELS[vendor]} GPU {vendor_id}:{device_id}"
        )
        gpus.append(
            Gpu(
                pci_bus_id=bus_id,
                vendor=vendor,
                vendor_id=vendor_id,
                device_id=device_id,
                name=name,
                driver=link_name(device_dir / "driver"),
                vram_total_bytes=vram_total,
                vram_free_bytes=(
                    vram_total - vram_used
                    if vram_total is not None and vram_used is not None
                    else None
                ),
                render_node=_render_node(device_dir, issues),
                numa_node=numa if numa is not None and numa >= 0 else None,
            )
        )
    return gpus

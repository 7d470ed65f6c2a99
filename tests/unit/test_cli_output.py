from __future__ import annotations

from lais_agent.cli import output


def test_sizes() -> None:
    assert output.size(0) == "0 B"
    assert output.size(1536) == "1.5 KiB"
    assert output.size(25757220864) == "24.0 GiB"
    assert output.size(None) == "unknown"


def test_durations() -> None:
    assert output.duration(5.2) == "5s"
    assert output.duration(3725) == "1h 2min 5s"
    assert output.duration(90061) == "1d 1h 1min 1s"


def test_table_aligns_columns() -> None:
    text = output.table(["A", "LONG"], [["xx", "1"], ["y", "22"]])
    assert text.splitlines() == ["A   LONG", "xx  1", "y   22"]


def test_status_mentions_issues_and_gpus() -> None:
    text = output.format_status(
        {
            "version": "1",
            "hostname": "h",
            "pid": 3,
            "uptime_seconds": 61,
            "hardware": {
                "cpu_model": "C",
                "logical_cores": 8,
                "memory_total_bytes": 1024,
                "gpu_names": ["RTX"],
                "vram_total_bytes": 2048,
                "issue_count": 2,
            },
        }
    )
    assert "lais-agent 1 on h" in text
    assert "RTX (2.0 KiB VRAM)" in text
    assert "2; see `laisctl hardware`" in text


def test_hardware_lists_gpus_and_issues() -> None:
    text = output.format_hardware(
        {
            "cpu": {"model": "C", "sockets": 2},
            "gpus": [
                {
                    "pci_bus_id": "0000:01:00.0",
                    "vendor": "nvidia",
                    "name": "A100",
                    "driver": None,
                    "compute_capability": "8.0",
                    "nvlink_peers": ["0000:02:00.0"],
                }
            ],
            "issues": [{"component": "gpu.nvidia", "message": "NVML unavailable"}],
        }
    )
    assert "2 sockets" in text
    assert "A100" in text
    assert "none" in text
    assert "NVLink→0000:02:00.0" in text
    assert "gpu.nvidia: NVML unavailable" in text

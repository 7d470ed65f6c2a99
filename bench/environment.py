"""The environment a run measured on: machine, kernel, OS, interpreter and library versions."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Sequence
from typing import Any

import psutil

from bench.noise import speed_probe
from bench.paths import PYTHON


def _first_line(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return (done.stdout or done.stderr).splitlines()[0].strip()


def environment() -> dict[str, Any]:
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    os_name = "unknown"
    with contextlib.suppress(OSError), open("/etc/os-release") as osr:
        for line in osr:
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    return {
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "mem_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "os": os_name,
        "python": platform.python_version(),
        "python_path": PYTHON,
        "dbus_fast": importlib.metadata.version("dbus-fast"),
        "dbus_python": importlib.metadata.version("dbus-python"),
        "click": importlib.metadata.version("click"),
        "dbus_daemon": _first_line(["dbus-daemon", "--version"]),
        "busctl": _first_line(["busctl", "--version"]),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "speed_probe_ms": speed_probe(),
    }

"""Processes this run owns: everything spawned here is stopped by PID when the sides close
(bench/sides.py ``open_sides``), whatever happened."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.paths import REPO

OWNED: list[subprocess.Popen[bytes]] = []


def spawn(argv: Sequence[str], *, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        proc = subprocess.Popen(
            list(argv), env=dict(env), cwd=REPO, stdout=subprocess.DEVNULL, stderr=err
        )
    OWNED.append(proc)
    return proc


def stop_owned() -> None:
    for proc in reversed(OWNED):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    OWNED.clear()


def release(proc: subprocess.Popen[bytes]) -> None:
    """Forget a process that its owner has stopped and reaped."""
    OWNED.remove(proc)

"""Run a Python server with its garbage collections recorded, switched on and off by signal.

    python bench/gc_watched.py OUT.json [--freeze] -m lais_agent --bus ADDRESS --no-udev
    python bench/gc_watched.py OUT.json bench/floor_server.py --bus ADDRESS --payload F

A ``gc.callbacks`` hook notes every collection: its generation and its start and stop
on ``time.perf_counter_ns()`` (CLOCK_MONOTONIC, the same clock in every process here,
so bench/gc_cell.py can tell which of its calls overlapped a collection). SIGUSR1
starts recording (start-up stays out), SIGUSR2 stops and writes OUT.json: the
collections, plus the objects the collector tracks per generation and frozen.

``--freeze`` calls ``gc.freeze()`` at SIGUSR1, before recording starts: what the agent
would do after start-up (moves every object alive then out of the collector's reach).
"""

from __future__ import annotations

import gc
import json
import runpy
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    args = sys.argv[2:]
    freeze = args[0] == "--freeze"
    if freeze:
        args = args[1:]
    recording = False
    started: dict[int, int] = {}
    events: list[tuple[int, int, int, int]] = []  # generation, start ns, stop ns, collected

    def callback(phase: str, info: dict[str, Any]) -> None:
        if not recording:
            return
        gen = int(info["generation"])
        if phase == "start":
            started[gen] = time.perf_counter_ns()
        else:
            events.append((gen, started.pop(gen, 0), time.perf_counter_ns(), info["collected"]))

    def start(_signum: int, _frame: FrameType | None) -> None:
        nonlocal recording
        if freeze:
            gc.collect()
            gc.freeze()
        events.clear()
        recording = True

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal recording
        recording = False
        doc = {
            "freeze": freeze,
            "thresholds": list(gc.get_threshold()),
            "tracked_per_generation": [len(gc.get_objects(g)) for g in range(3)],
            "frozen": gc.get_freeze_count(),
            "events": [
                {"generation": g, "start_ns": a, "stop_ns": b, "collected": c}
                for g, a, b, c in events
            ],
        }
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.rename(out)  # the reader waits for OUT to appear: write it atomically

    gc.callbacks.append(callback)
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    if args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        sys.path[0] = str(Path(sys.argv[0]).resolve().parent)
        runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()

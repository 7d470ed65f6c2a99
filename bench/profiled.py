"""Run a Python program with cProfile that the benchmark switches on and off by signal.

    python bench/profiled.py OUT.pstats -m lais_agent --bus ADDRESS --no-udev
    python bench/profiled.py OUT.pstats bench/floor_server.py --bus ADDRESS --payload F

SIGUSR1 starts profiling, SIGUSR2 stops it and writes OUT.pstats. So start-up and
imports stay out of the profile and bench/profiling.py can divide the call counts by the
number of requests it sent in between. Only the main thread is profiled, which is
where dbus-fast and asyncio run.
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
from pathlib import Path
from types import FrameType


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    profiler = cProfile.Profile()

    def start(_signum: int, _frame: FrameType | None) -> None:
        profiler.enable()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        profiler.disable()
        tmp = out.with_suffix(".tmp")
        profiler.dump_stats(tmp)
        tmp.rename(out)  # profiling.py waits for OUT to appear: write it atomically

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    if sys.argv[2] == "-m":
        sys.argv = [sys.argv[3], *sys.argv[4:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[2:]
        sys.path[0] = str(Path(sys.argv[0]).resolve().parent)
        runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()

"""Where the benchmark finds things: the checkout, bench/, the interpreter and laisctl."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = sys.executable
LAISCTL = str(Path(PYTHON).parent / "laisctl")

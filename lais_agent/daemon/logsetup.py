"""Logging, configured once, at the entry point.

Under systemd (``JOURNAL_STREAM`` names our stderr) records go to journald with
structured fields (``LOGGER``, ``CODE_*``, and any ``extra={"LAIS_...": ...}``);
otherwise to stderr. ``LAIS_DEBUG=lais_agent.bus.gate,lais_agent.hardware``
turns on debug output for those loggers only; ``LAIS_DEBUG=1`` for all.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

SYSLOG_IDENTIFIER = "lais-agent"


def stderr_is_journal(env: Mapping[str, str], stream: TextIO) -> bool:
    """systemd's documented test: JOURNAL_STREAM equals stderr's device:inode."""
    value = env.get("JOURNAL_STREAM", "")
    if ":" not in value:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return value == f"{st.st_dev}:{st.st_ino}"


def _journal_handler() -> logging.Handler | None:
    try:
        from systemd.journal import JournalHandler  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    handler: logging.Handler = JournalHandler(SYSLOG_IDENTIFIER=SYSLOG_IDENTIFIER)
    return handler


def setup_logging(
    level: int = logging.INFO,
    *,
    env: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install exactly one handler on the root logger and return it."""
    env = os.environ if env is None else env
    stream = sys.stderr if stream is None else stream
    handler = _journal_handler() if stderr_is_journal(env, stream) else None
    if handler is None:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    debug = env.get("LAIS_DEBUG", "").strip()
    if debug in ("1", "all", "*"):
        root.setLevel(logging.DEBUG)
    elif debug:
        for name in debug.split(","):
            logging.getLogger(name.strip()).setLevel(logging.DEBUG)
    return handler

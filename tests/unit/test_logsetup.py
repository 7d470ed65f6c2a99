from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Iterator

import pytest

from lais_agent.daemon.logsetup import setup_logging, stderr_is_journal


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("lais_agent.x").setLevel(logging.NOTSET)


def test_stderr_when_not_under_systemd() -> None:
    stream = io.StringIO()
    handler = setup_logging(env={}, stream=stream)
    assert isinstance(handler, logging.StreamHandler)
    logging.getLogger("lais_agent.test").info("hello %s", "world")
    assert stream.getvalue() == "INFO lais_agent.test: hello world\n"
    assert logging.getLogger().handlers == [handler]


def test_configuring_twice_keeps_one_handler() -> None:
    setup_logging(env={}, stream=io.StringIO())
    setup_logging(env={}, stream=io.StringIO())
    assert len(logging.getLogger().handlers) == 1


def test_journal_detected_by_journal_stream_device_and_inode() -> None:
    with tempfile.TemporaryFile("w") as stream:
        st = os.fstat(stream.fileno())
        assert stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, stream)
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, stream)
        assert not stderr_is_journal({}, stream)


def test_journal_handler_under_systemd() -> None:
    from systemd import journal  # python3-systemd: installed by the setup step

    with tempfile.TemporaryFile("w") as stream:
        st = os.fstat(stream.fileno())
        handler = setup_logging(env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, stream=stream)
    assert isinstance(handler, journal.JournalHandler)


def test_lais_debug_enables_one_logger() -> None:
    setup_logging(env={"LAIS_DEBUG": "lais_agent.x"}, stream=io.StringIO())
    assert logging.getLogger("lais_agent.x").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("lais_agent.y").isEnabledFor(logging.DEBUG)

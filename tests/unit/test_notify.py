from __future__ import annotations

import os
import socket
from pathlib import Path

from lais_agent.daemon.notify import Notifier


def test_sends_datagrams_to_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        notifier.send(READY="1", STATUS="serving")
        assert server.recv(4096) == b"READY=1\nSTATUS=serving"


def test_abstract_socket_names(tmp_path: Path) -> None:
    name = f"lais-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        Notifier({"NOTIFY_SOCKET": "@" + name}).send(WATCHDOG="1")
        assert server.recv(64) == b"WATCHDOG=1"


def test_without_socket_it_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.send(READY="1")


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert Notifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    pid = str(os.getpid())
    assert Notifier({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": pid}).watchdog_interval == 1.0
    assert Notifier({"WATCHDOG_USEC": "0"}).watchdog_interval is None


def test_unreachable_socket_does_not_raise(tmp_path: Path) -> None:
    Notifier({"NOTIFY_SOCKET": str(tmp_path / "missing")}).send(READY="1")

"""Agent lifecycle on the bus: start, clean stop, restart, absence."""

from __future__ import annotations

import pytest

from lais_agent import names
from lais_agent.errors import EXIT_UNAVAILABLE
from tests.bus.harness import Agent, PrivateBus, laisctl

pytestmark = pytest.mark.bus


def test_restart_releases_and_reacquires_the_name(bus: PrivateBus, polkit: object) -> None:
    first = Agent(bus).start()
    assert laisctl(bus, "status").returncode == 0
    assert first.stop() == 0, first.logs()
    assert not bus.has_owner(names.BUS_NAME)
    second = Agent(bus).start()
    try:
        assert laisctl(bus, "status").returncode == 0
    finally:
        assert second.stop() == 0, second.logs()


def test_agent_not_running_and_not_activatable(bus: PrivateBus, polkit: object) -> None:
    assert not bus.has_owner(names.BUS_NAME)
    result = laisctl(bus, "status")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "agent is not running" in result.stderr
    assert "systemctl start lais-agent" in result.stderr


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_first_call_bus_activates_the_agent(bus: PrivateBus, polkit: object) -> None:
    import os
    import signal
    import sys

    from tests.bus.harness import wait_for

    service = bus.servicedir / f"{names.BUS_NAME}.service"
    service.write_text(
        "[D-BUS Service]\n"
        f"Name={names.BUS_NAME}\n"
        f"Exec={sys.executable} -m lais_agent --bus {bus.address} --no-udev\n"
    )
    # dbus-daemon notices new service files on its own (inotify); give it a moment
    bus.connect().call_blocking(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "ReloadConfig",
        "",
        [],
    )
    try:
        assert not bus.has_owner(names.BUS_NAME)
        result = laisctl(bus, "status")
        assert result.returncode == 0, result.stderr
        assert bus.has_owner(names.BUS_NAME)
    finally:
        service.unlink()
        if bus.has_owner(names.BUS_NAME):
            pid = bus.owner_pid(names.BUS_NAME)
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not bus.has_owner(names.BUS_NAME), what="activated agent to stop")
            wait_for(lambda: _gone(pid), what="activated agent to exit")


def test_bad_arguments_exit_2_with_a_message(bus: PrivateBus) -> None:
    result = laisctl(bus, "stauts")
    assert result.returncode == 2
    assert "No such command 'stauts'" in result.stderr
    assert "status" in result.stderr  # click suggests the right one


def test_unreachable_bus_says_so(bus: PrivateBus) -> None:
    result = laisctl(bus, "--bus", "unix:path=/nonexistent/socket", "status")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "cannot connect to unix:path=/nonexistent/socket" in result.stderr
    assert "hint:" in result.stderr


def test_version_needs_no_agent(bus: PrivateBus) -> None:
    from lais_agent import __version__

    result = laisctl(bus, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"laisctl {__version__}"

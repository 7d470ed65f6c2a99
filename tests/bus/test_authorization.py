"""The polkit gate with real uids: root, an unprivileged user, polkit up or down."""

from __future__ import annotations

import subprocess
import time

import dbus
import dbus.exceptions
import dbus.lowlevel
import pytest

from lais_agent import names
from lais_agent.errors import EXIT_NOT_AUTHORIZED, NotAuthorized
from tests.bus.harness import NOBODY, Agent, PolkitMock, PrivateBus, as_user, busctl, laisctl

pytestmark = pytest.mark.bus

GET_STATUS = (names.BUS_NAME, names.ROOT_PATH, names.MANAGER_IFACE, "GetStatus")


def _call_as_root(
    bus: PrivateBus, interface: str | None, member: str
) -> dbus.exceptions.DBusException:
    conn = bus.connect()
    try:
        msg = dbus.lowlevel.MethodCallMessage(names.BUS_NAME, names.ROOT_PATH, interface, member)
        with pytest.raises(dbus.exceptions.DBusException) as info:
            conn.send_message_with_reply_and_block(msg, 10)
        return info.value
    finally:
        conn.close()


def test_root_passes_without_asking_polkit(bus: PrivateBus, agent: Agent) -> None:
    # the polkit mock denies everything; root is not asked
    result = laisctl(bus, "status")
    assert result.returncode == 0, result.stderr


def test_plain_user_is_denied_when_polkit_says_no(bus: PrivateBus, agent: Agent) -> None:
    result = laisctl(bus, "status", uid=NOBODY)
    assert result.returncode == EXIT_NOT_AUTHORIZED
    assert f"not authorized for {names.ACTION_READ}" in result.stderr
    assert "lais" in result.stderr  # the hint says how to get access
    assert "Traceback" not in result.stderr


def test_plain_user_is_allowed_when_polkit_says_yes(
    bus: PrivateBus, agent: Agent, polkit: PolkitMock
) -> None:
    polkit.set_allowed([names.ACTION_READ])
    result = laisctl(bus, "hardware", "--json", uid=NOBODY)
    assert result.returncode == 0, result.stderr
    assert '"cpu"' in result.stdout


def test_property_reads_are_gated_too(bus: PrivateBus, agent: Agent, polkit: PolkitMock) -> None:
    argv = ["get-property", names.BUS_NAME, names.ROOT_PATH, names.MANAGER_IFACE, "Version"]
    denied = busctl(bus, *argv, uid=NOBODY)
    assert denied.returncode != 0
    assert "not authorized" in denied.stderr
    polkit.set_allowed([names.ACTION_READ])
    allowed = busctl(bus, *argv, uid=NOBODY)
    assert allowed.returncode == 0, allowed.stderr


def test_introspection_is_public(bus: PrivateBus, agent: Agent) -> None:
    argv = ["introspect", "--xml-interface", names.BUS_NAME, names.ROOT_PATH]
    result = busctl(bus, *argv, uid=NOBODY)
    assert result.returncode == 0, result.stderr
    assert names.MANAGER_IFACE in result.stdout


def test_member_missing_from_the_table_is_refused(bus: PrivateBus, agent: Agent) -> None:
    error = _call_as_root(bus, names.MANAGER_IFACE, "NoSuchMethod")
    assert error.get_dbus_name() == NotAuthorized.dbus_name()
    # No interface: the shipped bus policy already refuses it; the gate would too.
    error = _call_as_root(bus, None, "GetStatus")
    assert error.get_dbus_name() in (
        NotAuthorized.dbus_name(),
        "org.freedesktop.DBus.Error.AccessDenied",
    )


def test_caller_disconnecting_mid_call_does_not_hurt_the_agent(
    bus: PrivateBus, agent: Agent, polkit: PolkitMock
) -> None:
    polkit.set_delay(1.5)
    slow = subprocess.Popen(
        as_user(["busctl", f"--address={bus.address}", "call", *GET_STATUS], NOBODY),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.4)  # the agent is now waiting on polkit for this caller
    slow.kill()
    slow.wait()
    polkit.set_delay(0)
    time.sleep(1.5)  # let the delayed polkit answer arrive for the vanished caller
    assert agent.proc is not None
    assert agent.proc.poll() is None
    assert laisctl(bus, "status").returncode == 0
    polkit.set_allowed([names.ACTION_READ])
    assert laisctl(bus, "status", uid=NOBODY).returncode == 0
    assert "Traceback" not in agent.logs()


def test_busctl_sees_the_error_name(bus: PrivateBus, agent: Agent) -> None:
    result = busctl(bus, "call", *GET_STATUS, uid=NOBODY)
    assert result.returncode != 0
    assert names.ACTION_READ in result.stderr
    assert busctl(bus, "call", *GET_STATUS).returncode == 0


def test_mutating_call_needs_its_own_action(
    bus: PrivateBus, agent: Agent, polkit: PolkitMock
) -> None:
    polkit.set_allowed([names.ACTION_READ])
    denied = laisctl(bus, "reload", uid=NOBODY)
    assert denied.returncode == EXIT_NOT_AUTHORIZED
    assert names.ACTION_MODULE_MANAGE in denied.stderr
    polkit.set_allowed([names.ACTION_READ, names.ACTION_MODULE_MANAGE])
    allowed = laisctl(bus, "reload", uid=NOBODY)
    assert allowed.returncode == 0, allowed.stderr
    assert laisctl(bus, "reload").returncode == 0  # root

"""Processes for bus tests: a private system-like dbus-daemon, dbusmock's polkitd,
the real agent, and laisctl run as root or as an unprivileged user.

Every process started here is registered in ``OWNED`` until it is stopped, so
the leak check in tests/conftest.py can tell fixtures' processes from leaks.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import dbus
import dbus.bus
import dbus.exceptions

from lais_agent import names
from tests.owned import OWNED

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NOBODY = 65534


def _spawn(argv: list[str], **kwargs: object) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, text=True, **kwargs)  # type: ignore[call-overload]
    OWNED.add(proc.pid)
    return proc


def stop_process(
    proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 10
) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    OWNED.discard(proc.pid)
    return proc.returncode


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class PrivateBus:
    """A dbus-daemon with a system-bus-like policy in a world-reachable directory."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lais-bus-")))
    proc: subprocess.Popen[str] | None = None

    @property
    def socket(self) -> Path:
        return self.directory / "system_bus_socket"

    @property
    def address(self) -> str:
        return f"unix:path={self.socket}"

    @property
    def servicedir(self) -> Path:
        return self.directory / "services"

    def start(self) -> PrivateBus:
        self.directory.chmod(0o755)
        self.servicedir.mkdir(exist_ok=True)
        template = (REPO / "tests/bus/system-bus.conf.in").read_text()
        config = (
            template.replace("@SOCKET@", str(self.socket))
            .replace("@SERVICEDIR@", str(self.servicedir))
            .replace("@POLICY@", str(REPO / "dbus/org.localaistack.Agent1.conf"))
        )
        conf = self.directory / "bus.conf"
        conf.write_text(config)
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}
        self.proc = _spawn(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.socket.exists, what="dbus-daemon socket")
        return self

    def connect(self) -> dbus.bus.BusConnection:
        return dbus.bus.BusConnection(self.address)

    def has_owner(self, name: str) -> bool:
        conn = self.connect()
        try:
            return bool(conn.name_has_owner(name))
        finally:
            conn.close()

    def owner_pid(self, name: str) -> int:
        conn = self.connect()
        try:
            bus_obj = conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
            return int(
                bus_obj.GetConnectionUnixProcessID(name, dbus_interface="org.freedesktop.DBus")
            )
        finally:
            conn.close()

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DBUS_SYSTEM_BUS_ADDRESS": self.address,
            "LAIS_BUS_ADDRESS": self.address,
        }

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class PolkitMock:
    """python-dbusmock's polkitd template: denies everything until SetAllowed."""

    bus: PrivateBus
    proc: subprocess.Popen[str] | None = None

    def start(self) -> PolkitMock:
        self.proc = _spawn(
            [sys.executable, "-m", "dbusmock", "--system", "--template", "polkitd"],
            env=self.bus.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self.bus.has_owner("org.freedesktop.PolicyKit1"), what="polkit mock")
        return self

    def _mock(self, member: str, signature: str, *args: object) -> None:
        conn = self.bus.connect()
        try:
            obj = conn.get_object(
                "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority"
            )
            getattr(obj, member)(
                *args, dbus_interface="org.freedesktop.DBus.Mock", signature=signature
            )
        finally:
            conn.close()

    def set_allowed(self, actions: list[str]) -> None:
        self._mock("SetAllowed", "as", dbus.Array(actions, signature="s"))

    def set_delay(self, seconds: float) -> None:
        self._mock("SetDelay", "d", seconds)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            wait_for(
                lambda: not self.bus.has_owner("org.freedesktop.PolicyKit1"), what="polkit gone"
            )


@dataclass
class Agent:
    """The real lais-agent as a subprocess on the private bus."""

    bus: PrivateBus
    hardware_root: Path | None = None
    proc: subprocess.Popen[str] | None = None
    log: Path | None = None

    def argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "lais_agent",
            "--bus",
            self.bus.address,
            "--no-udev",
            "--policy-dir",
            str(REPO / "policies"),
            "--admin-policy-dir",
            str(self.bus.directory / "policies.d"),
            # never the host's /var/lib/localaistack: every agent's state stays in its bus dir
            "--state-dir",
            str(self.bus.directory / "state"),
            "--catalog-dir",
            str(REPO / "catalog"),
            "--admin-catalog-dir",
            str(self.bus.directory / "catalog.d"),
            "--keys-dir",
            str(self.bus.directory / "no-shipped-keys"),
            "--admin-keys-dir",
            str(self.bus.directory / "keys.d"),
        ]
        if self.hardware_root is not None:
            argv += ["--hardware-root", str(self.hardware_root)]
        return argv

    def start(self) -> Agent:
        # The previous agent's exit reaches the bus daemon asynchronously.
        wait_for(lambda: not self.bus.has_owner(names.BUS_NAME), what="the name to be free")
        self.log = self.bus.directory / f"agent-{time.monotonic_ns()}.log"
        with self.log.open("w") as log:
            self.proc = _spawn(self.argv(), env=self.bus.env(), stderr=log, cwd=REPO)
        wait_for(
            lambda: self._owns_name() or self.proc.poll() is not None,  # type: ignore[union-attr]
            what="agent on the bus",
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"agent exited: {self.log.read_text()}")
        return self

    def _owns_name(self) -> bool:
        if not self.bus.has_owner(names.BUS_NAME):
            return False
        try:
            return self.bus.owner_pid(names.BUS_NAME) == self.proc.pid  # type: ignore[union-attr]
        except dbus.exceptions.DBusException:
            return False

    def logs(self) -> str:
        return self.log.read_text() if self.log else ""

    def stop(self) -> int:
        assert self.proc is not None
        return stop_process(self.proc)


def laisctl(
    bus: PrivateBus, *args: str, uid: int | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run laisctl as root, or as ``uid`` (through setpriv, a real uid change)."""
    argv = as_user([str(BIN / "laisctl"), *args], uid)
    return subprocess.run(
        argv, env=bus.env(), capture_output=True, text=True, timeout=timeout, check=False, cwd="/"
    )


def as_user(argv: list[str], uid: int | None) -> list[str]:
    """Prefix argv with setpriv so it runs as ``uid`` (a real uid change), or not at all."""
    if uid is None:
        return argv
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]


def busctl(bus: PrivateBus, *args: str, uid: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        as_user(["busctl", f"--address={bus.address}", *args], uid),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

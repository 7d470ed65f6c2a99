"""Modules on the bus: ListModules, Module objects, PlanInstall, against recorded machines."""

from __future__ import annotations

import json
import time

import pytest

from lais_agent import names
from lais_agent.errors import EXIT_NOT_FOUND, EXIT_USAGE
from tests.bus.harness import Agent, PolkitMock, PrivateBus, busctl, laisctl
from tests.unit.hardware.test_detect_fixtures import FIXTURES

pytestmark = pytest.mark.bus


def test_module_list_explains_each_machine(bus: PrivateBus, polkit: PolkitMock) -> None:
    for fixture, vllm_ok in (("laptop-cpu-only", False), ("rtx4090", True)):
        agent = Agent(bus, hardware_root=FIXTURES / fixture).start()
        try:
            modules = json.loads(laisctl(bus, "module", "list", "--json").stdout)
            assert len(modules) == 31
            vllm = next(m for m in modules if m["name"] == "vllm")
            assert vllm["installable"] is vllm_ok, vllm
            if not vllm_ok:
                assert any("needs a GPU" in r for r in vllm["reasons"])
            runtimes = laisctl(bus, "module", "list", "--installable", "--category", "runtime")
            assert runtimes.returncode == 0, runtimes.stderr
            assert ("vllm" in runtimes.stdout) is vllm_ok
        finally:
            assert agent.stop() == 0, agent.logs()


def _watch_properties(bus: PrivateBus) -> tuple[object, list[tuple[str, dict[str, object]]]]:
    """A connection collecting PropertiesChanged signals of Module objects."""
    conn = bus.connect()
    seen: list[tuple[str, dict[str, object]]] = []

    def handler(iface: str, changed: dict[str, object], _inv: list[str], path: str) -> None:
        if iface == names.MODULE_IFACE:
            seen.append((path, dict(changed)))

    conn.add_signal_receiver(
        handler,
        signal_name="PropertiesChanged",
        dbus_interface="org.freedesktop.DBus.Properties",
        path_keyword="path",
    )
    return conn, seen


def test_module_objects_follow_the_policy(bus: PrivateBus, polkit: PolkitMock) -> None:
    """Every catalog module is an object; an override that denies vllm flips its
    Installable property and PropertiesChanged says so."""
    import dbus
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib

    DBusGMainLoop(set_as_default=True)
    agent = Agent(bus, hardware_root=FIXTURES / "rtx4090").start()
    try:
        conn, seen = _watch_properties(bus)
        info = laisctl(bus, "module", "info", "vllm")
        assert info.returncode == 0, info.stderr
        assert "Installable here  yes: 0.7.2 via venv" in info.stdout
        root = conn.get_object(names.BUS_NAME, names.ROOT_PATH)  # type: ignore[attr-defined]
        objects = root.GetManagedObjects(dbus_interface="org.freedesktop.DBus.ObjectManager")
        paths = {str(p) for p in objects}
        assert len(paths) == 31
        assert names.module_path("llama.cpp") in paths
        vllm_path = names.module_path("vllm")
        assert bool(objects[vllm_path][names.MODULE_IFACE]["Installable"]) is True

        done = laisctl(bus, "policy", "override", "--deny-runtime", "vllm", "--reason", "test")
        assert done.returncode == 0, done.stderr
        context = GLib.MainContext.default()
        deadline = time.monotonic() + 10
        while not any(p == vllm_path for p, _ in seen) and time.monotonic() < deadline:
            context.iteration(False)
            time.sleep(0.01)
        changes = [c for p, c in seen if p == vllm_path]
        assert changes, "no PropertiesChanged for vllm"
        assert bool(changes[0]["Installable"]) is False
        vllm = dbus.Interface(
            conn.get_object(names.BUS_NAME, vllm_path),  # type: ignore[attr-defined]
            "org.freedesktop.DBus.Properties",
        )
        reasons = [str(r) for r in vllm.Get(names.MODULE_IFACE, "Reasons")]
        assert "0.7.2: the capability policy does not allow the runtime vllm on" in reasons[0]
        conn.close()  # type: ignore[attr-defined]
    finally:
        assert agent.stop() == 0, agent.logs()


def test_get_module_and_plan_refuse_bad_input(bus: PrivateBus, polkit: PolkitMock) -> None:
    agent = Agent(bus).start()  # this module's other tests start their own agents
    try:
        unknown = laisctl(bus, "module", "info", "no-such-module")
        assert unknown.returncode == EXIT_NOT_FOUND
        assert "no module named 'no-such-module' in the catalog" in unknown.stderr
        bad = laisctl(bus, "module", "info", "../../etc")
        assert bad.returncode == EXIT_USAGE
        assert "is not a module name" in bad.stderr
        call = [
            "call",
            names.BUS_NAME,
            names.ROOT_PATH,
            names.MANAGER_IFACE,
            "PlanInstall",
            "asa{sv}",
        ]
        odd = busctl(bus, *call, "1", "vllm", "1", "colour", "s", "red")
        assert odd.returncode != 0
        assert "unknown plan option 'colour'; known options: mode" in odd.stderr
        typed = busctl(bus, *call, "1", "vllm", "1", "mode", "u", "1")
        assert "plan option mode must be of type s, not u" in typed.stderr
        nothing = laisctl(bus, "module", "plan", "no-such-module")
        assert nothing.returncode == EXIT_NOT_FOUND
        assert "no module named 'no-such-module'" in nothing.stderr
        junk = busctl(bus, *call, "1", "vllm\nx", "0")
        assert "is not a module request" in junk.stderr
    finally:
        assert agent.stop() == 0, agent.logs()


ADMIN_MANIFEST = """\
apiVersion: localaistack.org/v1
kind: Module
metadata:
  name: site-echo
  category: service
  title: Site echo service
  description: A site's own HTTP echo service, shipped as a container image.
  homepage: https://example.org/echo
  license: MIT
versions:
  - version: "1.2.0"
    needs:
      hardware: {disk_gib: 0.2}
    modes:
      container:
        image: registry.example.org/site/echo:1.2.0
        digest: "sha256:%(digest)s"
      native:
        artifacts:
          x86_64: {url: "https://example.org/echo-1.2.0.tar.gz", sha256: "%(sha)s"}
        entrypoint: bin/echo
      prefer: [container, native]
service:
  command: ["{payload}/bin/echo", "--port", "{port:http}"]
  ports: [{name: http, port: 8088}]
  health: {http: /healthz}
"""


def test_plan_picks_the_mode_from_what_the_machine_has(bus: PrivateBus, polkit: PolkitMock) -> None:
    """An administrator's manifest with pinned digests: a quadlet on the Ubuntu 24.04 box
    with podman 4.9.3, native on the RTX 4090 box without podman; --mode overrides."""
    admin = bus.directory / "catalog.d"
    admin.mkdir(exist_ok=True)
    (admin / "site-echo.yaml").write_text(ADMIN_MANIFEST % {"digest": "1" * 64, "sha": "2" * 64})
    try:
        for fixture, mode, unit in (
            ("rx7900xtx", "container", "quadlet container"),
            ("a100x2-nvlink", "container", "podman-run service"),
            ("rtx4090", "native", "systemd service running the verified payload"),
        ):
            agent = Agent(bus, hardware_root=FIXTURES / fixture).start()
            try:
                result = laisctl(bus, "module", "plan", "site-echo", "--json")
                assert result.returncode == 0, result.stderr
                (step,) = json.loads(result.stdout)["steps"]
                assert (step["mode"], step["unit_kind"]) == (mode, unit), fixture
                if fixture == "rtx4090":
                    assert (
                        "not container: podman is not installed (apt install podman)"
                        in (step["explanation"])
                    )
                    assert step["downloads"][0]["verified_by"] == "sha256:" + "2" * 64
                else:
                    assert step["downloads"][0]["source"] == (
                        "registry.example.org/site/echo@sha256:" + "1" * 64
                    )
                forced = laisctl(bus, "module", "plan", "site-echo", "--mode", "native", "--json")
                assert forced.returncode == 0, forced.stderr
                (step,) = json.loads(forced.stdout)["steps"]
                assert step["explanation"][0] == "native: you asked for it"
            finally:
                assert agent.stop() == 0, agent.logs()
    finally:
        (admin / "site-echo.yaml").unlink()


def test_object_manager_lists_modules_on_the_first_call(
    bus: PrivateBus, polkit: PolkitMock
) -> None:
    """Module objects are exported lazily, but GetManagedObjects never misses them."""
    from tests.bus.harness import NOBODY

    polkit.set_allowed([names.ACTION_READ])
    # a caller polkit asks about, and root (the fast path); on our root and on "/"
    for uid, path in ((NOBODY, names.ROOT_PATH), (None, names.ROOT_PATH), (NOBODY, "/")):
        agent = Agent(bus).start()
        try:
            call = ["call", "--json=short", names.BUS_NAME, path]
            done = busctl(
                bus, *call, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", uid=uid
            )
            assert done.returncode == 0, done.stderr
            objects = json.loads(done.stdout)["data"][0]
            modules = [p for p in objects if p.startswith(names.MODULES_PATH + "/")]
            assert len(modules) == 31, sorted(objects)
            vllm = objects[names.module_path("vllm")][names.MODULE_IFACE]
            assert vllm["Category"]["data"] == "runtime"
        finally:
            assert agent.stop() == 0, agent.logs()

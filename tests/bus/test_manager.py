"""The Manager interface end to end: real agent, private bus, laisctl and busctl."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import pytest

from lais_agent import __version__, names
from lais_agent.bus.actions import METHOD_ACTIONS, PUBLIC_IFACES
from tests.bus.harness import REPO, Agent, PrivateBus, busctl, laisctl

pytestmark = pytest.mark.bus


def _introspect(bus: PrivateBus, path: str = names.ROOT_PATH) -> str:
    conn = bus.connect()
    try:
        obj = conn.get_object(names.BUS_NAME, path)
        return str(obj.Introspect(dbus_interface="org.freedesktop.DBus.Introspectable"))
    finally:
        conn.close()


def _canonical(xml: str, *, only: str | None = None) -> str:
    """The API of one object: its interfaces (or only the one named), without its
    children (module objects come and go with the catalog)."""
    root = ET.fromstring(xml)
    for child in list(root):
        if child.tag == "node" or (only and child.get("name") != only):
            root.remove(child)
    if only:
        root.attrib.pop("name", None)
    for node in root.iter():
        node.tail = node.text = None
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode")


def test_status_answers_from_the_agent(bus: PrivateBus, agent: Agent) -> None:
    result = laisctl(bus, "status")
    assert result.returncode == 0, result.stderr
    assert f"lais-agent {__version__}" in result.stdout
    data = json.loads(laisctl(bus, "status", "--json").stdout)
    assert data["version"] == __version__
    assert data["pid"] == agent.proc.pid  # type: ignore[union-attr]
    assert data["hardware"]["logical_cores"] >= 1


def test_hardware_json_is_the_live_profile(bus: PrivateBus, agent: Agent) -> None:
    result = laisctl(bus, "hardware", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"cpu", "memory", "storage", "gpus", "os", "issues", "total_vram_bytes"}
    assert data["storage"]["path"] == names.MODELS_DIR
    human = laisctl(bus, "hardware")
    assert human.returncode == 0
    assert "Model store" in human.stdout


XML_HEADER = """<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<!--
  The API contract of lais-agent (org.localaistack.Agent1), as the live agent
  introspects it; tests/bus/test_manager.py asserts the two are equal
  (LAIS_UPDATE_GOLDEN=1 rewrites this file from the live agent).
  Every a{sv} key is documented in docs/dbus-api.md.
-->
"""
MODULE_XML_HEADER = XML_HEADER.replace(
    "(org.localaistack.Agent1)",
    "objects (org.localaistack.Agent1.Module, at\n  /org/localaistack/Agent1/modules/<name>)",
)


def test_live_introspection_equals_checked_in_xml(bus: PrivateBus, agent: Agent) -> None:
    path = REPO / "dbus/org.localaistack.Agent1.xml"
    live = _canonical(_introspect(bus))
    if os.environ.get("LAIS_UPDATE_GOLDEN"):
        path.write_text(XML_HEADER + live + "\n")
    assert live == _canonical(path.read_text())


def test_module_objects_introspect_as_the_checked_in_xml(bus: PrivateBus, agent: Agent) -> None:
    path = REPO / "dbus/org.localaistack.Agent1.Module.xml"
    module = laisctl(bus, "module", "info", "llama.cpp", "--json")
    assert module.returncode == 0, module.stderr
    object_path = json.loads(module.stdout)["ObjectPath"]
    assert object_path == "/org/localaistack/Agent1/modules/llama_2ecpp"
    live = _canonical(_introspect(bus, object_path), only=names.MODULE_IFACE)
    if os.environ.get("LAIS_UPDATE_GOLDEN"):
        path.write_text(MODULE_XML_HEADER + live + "\n")
    assert live == _canonical(path.read_text(), only=names.MODULE_IFACE)
    assert "<node" in _introspect(bus)  # the root lists its children (the modules node)


def test_every_exported_method_has_an_action(bus: PrivateBus, agent: Agent) -> None:
    root = ET.fromstring(_introspect(bus))
    exported = {
        (iface.get("name"), m.get("name"))
        for iface in root.iter("interface")
        for m in iface.iter("method")
        if iface.get("name") not in PUBLIC_IFACES
    }
    assert exported, "no methods exported"
    missing = exported - set(METHOD_ACTIONS)
    assert not missing, f"methods without a polkit action: {sorted(missing)}"


def test_properties_through_busctl(bus: PrivateBus, agent: Agent) -> None:
    result = busctl(
        bus, "get-property", names.BUS_NAME, names.ROOT_PATH, names.MANAGER_IFACE, "Version"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f's "{__version__}"'


def test_refresh_reports_no_change_on_the_same_machine(bus: PrivateBus, agent: Agent) -> None:
    result = busctl(
        bus, "call", names.BUS_NAME, names.ROOT_PATH, names.MANAGER_IFACE, "RefreshHardware"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "b false"


def test_second_agent_refuses_to_start(bus: PrivateBus, agent: Agent) -> None:
    second = Agent(bus)
    import subprocess

    done = subprocess.run(
        second.argv(), env=bus.env(), capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 1
    assert "already owned" in done.stderr

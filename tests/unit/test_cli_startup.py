"""Start-up paths stay light: laisctl's and the agent's (what docs/benchmarks.md measures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# A measured run (coverage's subprocess patch) imports json itself: these children run bare.
BARE_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")
}

HEAVY = ("dbus", "dbus_fast", "asyncio", "pydantic", "yaml", "json", "psutil", "lais_agent.bus")


def test_cli_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, lais_agent.cli.main, lais_agent.cli.client, lais_agent.cli.output;"
        f"print(repr([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=BARE_ENV,
    ).stdout
    assert out.strip() == "[]"


def test_dbus_bindings_errors_carry_dbus_names() -> None:
    """The client relies on _dbus_bindings raising DBusException-like errors."""
    from lais_agent.cli.client import _Connection

    with pytest.raises(Exception) as info:  # noqa: PT011 - the class loads lazily
        _Connection._new_for_bus("unix:path=/nonexistent/lais-test")
    assert info.value.get_dbus_name() == "org.freedesktop.DBus.Error.FileNotFound"  # type: ignore[attr-defined]


def test_json_output_is_stable() -> None:
    from lais_agent.cli import output

    assert json.loads(output.to_json({"b": 1, "a": [True]})) == {"a": [True], "b": 1}
    assert output.to_json({"b": 1, "a": 2}).index('"a"') < output.to_json({"b": 1, "a": 2}).index(
        '"b"'
    )


def test_agent_start_up_path_leaves_heavy_imports_for_later() -> None:
    """pydantic, PyYAML and pynvml load when first needed, after the name is on the bus."""
    code = (
        "import sys, lais_agent.daemon.main;"
        "print(repr([m for m in ('pydantic', 'yaml', 'pynvml', 'pyudev', 'packaging')"
        " if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=BARE_ENV,
    ).stdout
    assert out.strip() == "[]"

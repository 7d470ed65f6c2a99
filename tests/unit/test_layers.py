"""The layer rules of the brief, checked on the import graph (ast, no imports run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lais_agent"

# package -> lais_agent packages/modules it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "hardware": {"names", "errors"},
    "policy": {"names", "errors", "hardware", "documents", "yamlload"},
    "catalog": {"names", "errors", "documents", "yamlload", "hardware", "policy", "__init__"},
    "state": {"names", "errors"},
    "units": {"names", "errors", "catalog", "hardware", "policy"},
    "control": {"names", "errors", "hardware", "policy", "catalog", "state", "units"},
    "bus": {"names", "errors", "control", "hardware", "policy", "catalog", "__init__"},
    "cli": {"names", "errors", "__init__"},
    "daemon": {
        "names",
        "errors",
        "control",
        "hardware",
        "policy",
        "catalog",
        "state",
        "units",
        "bus",
        "__init__",
    },
}
# laisctl's start-up path must stay light: these never appear in cli/.
CLI_FORBIDDEN = {"dbus_fast", "asyncio", "pydantic", "yaml", "pynvml", "pyudev", "psutil"}


def _package(path: Path) -> tuple[str, ...]:
    """The package a file's relative imports start from: lais_agent/bus/gate.py and
    lais_agent/bus/__init__.py are both in ("lais_agent", "bus")."""
    return path.relative_to(PACKAGE.parent).parts[:-1]


def _imports_in(source: str, package: tuple[str, ...], filename: str = "<test>") -> set[str]:
    """Every module and name imported, relative imports resolved to absolute names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                if node.level > len(package):
                    raise ValueError(f"{filename}: relative import beyond lais_agent")
                up = package[: len(package) - (node.level - 1)]
                base = ".".join((*up, *([node.module] if node.module else [])))
            if base != "lais_agent":  # "from lais_agent import x" names x only
                found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _imports(path: Path) -> set[str]:
    return _imports_in(path.read_text(), _package(path), str(path))


def _internal_target(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "lais_agent":
        return None
    if len(parts) == 1 or parts[1] == "__version__":
        return "__init__"
    return parts[1]


def _violations(layer: str, where: str, imports: set[str]) -> list[str]:
    return [
        f"{where} imports {name}"
        for name in sorted(imports)
        if (target := _internal_target(name)) not in (None, layer) and target not in ALLOWED[layer]
    ]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        bad += _violations(layer, str(path.relative_to(PACKAGE)), _imports(path))
    assert not bad, "\n".join(bad)


def test_relative_imports_are_resolved_to_the_modules_they_name() -> None:
    source = (
        "from . import gate\n"
        "from .polkit import Authority\n"
        "from .. import errors\n"
        "from ..control.modules import ModuleService\n"
    )
    assert _imports_in(source, ("lais_agent", "bus")) == {
        "lais_agent.bus",
        "lais_agent.bus.gate",
        "lais_agent.bus.polkit",
        "lais_agent.bus.polkit.Authority",
        "lais_agent.errors",
        "lais_agent.control.modules",
        "lais_agent.control.modules.ModuleService",
    }
    assert _package(PACKAGE / "bus" / "__init__.py") == _package(PACKAGE / "bus" / "gate.py")


def test_a_relative_import_across_layers_is_a_violation() -> None:
    imports = _imports_in(
        "from ..bus.manager import ManagerInterface\n", ("lais_agent", "hardware")
    )
    assert _violations("hardware", "hardware/x.py", imports) == [
        "hardware/x.py imports lais_agent.bus.manager",
        "hardware/x.py imports lais_agent.bus.manager.ManagerInterface",
    ]
    inside = _imports_in(
        "from . import sources\nfrom .. import errors\n", ("lais_agent", "hardware")
    )
    assert _violations("hardware", "hardware/x.py", inside) == []


def test_cli_imports_nothing_heavy() -> None:
    bad = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / "cli").rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in CLI_FORBIDDEN
    ]
    assert not bad, "\n".join(bad)


def test_top_level_modules_are_stdlib_only() -> None:
    for module in ("names.py", "errors.py", "__init__.py"):  # documents.py: pydantic, yaml
        for name in _imports(PACKAGE / module):
            assert name.split(".")[0] in {"__future__", "typing", "lais_agent"}, (module, name)

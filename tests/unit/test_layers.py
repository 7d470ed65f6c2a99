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
    "control": {"names", "errors", "hardware", "policy", "catalog"},
    "bus": {"names", "errors", "control", "hardware", "policy", "catalog", "__init__"},
    "cli": {"names", "errors", "__init__"},
    "daemon": {"names", "errors", "control", "hardware", "policy", "catalog", "bus", "__init__"},
}
# laisctl's start-up path must stay light: these never appear in cli/.
CLI_FORBIDDEN = {"dbus_fast", "asyncio", "pydantic", "yaml", "pynvml", "pyudev", "psutil"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "lais_agent":  # "from lais_agent import x" names x only
                found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _internal_target(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "lais_agent":
        return None
    if len(parts) == 1 or parts[1] == "__version__":
        return "__init__"
    return parts[1]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imports(path):
            target = _internal_target(name)
            if target in (None, layer) or target in ALLOWED[layer]:
                continue
            bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not bad, "\n".join(bad)


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

"""Module manifests: every shipped one validates; errors point at file, line and field."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from lais_agent.catalog.manifest import Manifest
from lais_agent.catalog.registry import load_catalog, parse_manifest
from lais_agent.errors import InvalidConfig

REPO = Path(__file__).resolve().parents[3]
CATALOG = REPO / "catalog"
SHIPPED = sorted(CATALOG.glob("*.yaml"))
GOOD = (CATALOG / "llama.cpp.yaml").read_text()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_manifest_validates(path: Path) -> None:
    manifest, _ = parse_manifest(path.read_text(), str(path))
    assert path.name == f"{manifest.metadata.name}.yaml"


def test_catalog_loads_and_reports_unknowns() -> None:
    catalog = load_catalog(CATALOG, REPO / "no-admin")
    assert "llama.cpp" in catalog.modules
    assert catalog.unknowns()["llama.cpp"] == [
        "versions[0] (0.0.4600).native.x86_64.sha256",
        "versions[0] (0.0.4600).container.digest",
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'version: "0.0.4600"',
            'version: "b4600"',
            ":12: versions.0.version: Value error, 'b4600' is not a PEP 440",
        ),
        ("sha256: unknown", "sha256: 1234", ":22: versions.0.modes.native.artifacts.x86_64.sha256"),
        (
            "prefer: [native, container]",
            "prefer: [native, venv]",
            ":17: versions.0.modes: Value error, prefer lists 'venv'",
        ),
        ("category: runtime", "category: daemon", ":6: metadata.category"),
        ("health: {http: /health}", "health: {http: /health, tcp: true}", ":31: service.health"),
    ],
)
def test_errors_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    with pytest.raises(InvalidConfig) as info:
        parse_manifest(GOOD.replace(old, new, 1), "m.yaml")
    assert str(info.value).startswith("m.yaml" + expected), str(info.value)


def test_requirements_are_checked() -> None:
    text = GOOD.replace(
        "hardware: {gpu: optional", "modules: ['python >= three']\n      hardware: {gpu: optional"
    )
    with pytest.raises(InvalidConfig, match="not a requirement"):
        parse_manifest(text, "m.yaml")


def test_admin_manifest_replaces_by_name_and_duplicates_are_refused(tmp_path: Path) -> None:
    admin = tmp_path / "catalog.d"
    admin.mkdir()
    (admin / "site-llama.yaml").write_text(GOOD.replace("title: llama.cpp", "title: site build"))
    catalog = load_catalog(CATALOG, admin)
    assert catalog.modules["llama.cpp"].metadata.title == "site build"
    assert catalog.sources["llama.cpp"].endswith("site-llama.yaml")
    (admin / "again.yaml").write_text(GOOD)
    with pytest.raises(InvalidConfig, match="already defined"):
        load_catalog(CATALOG, admin)


def test_published_json_schema_is_current() -> None:
    text = json.dumps(TypeAdapter(Manifest).json_schema(), indent=2, sort_keys=True) + "\n"
    path = REPO / "docs/module.schema.json"
    if os.environ.get("LAIS_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.read_text() == text, "run LAIS_UPDATE_GOLDEN=1 pytest tests/unit/catalog"


def test_parse_cache_is_used_only_while_files_are_unchanged(tmp_path: Path) -> None:
    shipped = tmp_path / "catalog"
    shipped.mkdir()
    target = shipped / "llama.cpp.yaml"
    target.write_text(GOOD)
    cache = tmp_path / "state" / "catalog-cache.json"
    first = load_catalog(shipped, tmp_path / "none", cache=cache)
    assert cache.exists()
    again = load_catalog(shipped, tmp_path / "none", cache=cache)
    assert again.modules == first.modules
    target.write_text(GOOD.replace("title: llama.cpp", "title: changed"))
    changed = load_catalog(shipped, tmp_path / "none", cache=cache)
    assert changed.modules["llama.cpp"].metadata.title == "changed"
    target.write_text(GOOD.replace('version: "0.0.4600"', 'version: "b1"'))
    with pytest.raises(InvalidConfig, match="PEP 440"):  # a cached good copy never hides an error
        load_catalog(shipped, tmp_path / "none", cache=cache)


def test_damaged_cache_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text('{"format": 2, "schema": "x", "entries": {"a": 1')
    assert "llama.cpp" in load_catalog(CATALOG, tmp_path / "none", cache=cache).modules


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("entrypoint: build/bin/llama-server", "entrypoint: ../../usr/bin/sh", "entrypoint"),
        ("entrypoint: build/bin/llama-server", "entrypoint: /usr/bin/sh", "entrypoint"),
        ("title: llama.cpp", 'title: "llama\\nExecStartPre=/bin/sh"', "metadata.title"),
        ('"--host", "127.0.0.1"', '"--host", "127.0.0.1\\nUser=root"', "service.command"),
    ],
)
def test_values_that_could_escape_or_inject_are_refused(old: str, new: str, field: str) -> None:
    assert old in GOOD
    with pytest.raises(InvalidConfig) as info:
        parse_manifest(GOOD.replace(old, new, 1), "m.yaml")
    assert field in str(info.value), str(info.value)


@pytest.mark.parametrize("package", ["-o", "x", "Foo", "pkg name", "pkg;rm"])
def test_apt_package_names_are_debian_package_names(package: str) -> None:
    text = GOOD.replace(
        "      prefer: [native, container]",
        f"      apt: {{packages: {{debian-12: ['{package}']}}}}\n      prefer: [native, container]",
        1,
    )
    assert text != GOOD
    with pytest.raises(InvalidConfig, match=r"apt\.packages"):
        parse_manifest(text, "m.yaml")

"""The registry: every module manifest the agent knows, by name.

Shipped manifests live in /usr/share/localaistack/catalog/, an administrator's
in /etc/localaistack/catalog.d/. An admin manifest whose metadata.name equals a
shipped one replaces it; others add modules. Two files of the same directory
naming the same module are an error naming both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter

from lais_agent.catalog.manifest import Manifest
from lais_agent.documents import parse
from lais_agent.errors import InvalidConfig

_ADAPTER: TypeAdapter[Manifest] = TypeAdapter(Manifest)
HINT = "see docs/modules.md for the manifest format; `laisctl catalog validate FILE` checks one"


def parse_manifest(text: str, source: str) -> Manifest:
    return parse(text, source, _ADAPTER, hint=HINT)


@dataclass(frozen=True)
class Catalog:
    modules: dict[str, Manifest]
    sources: dict[str, str]  # module name -> file it came from

    def unknowns(self) -> dict[str, list[str]]:
        return {name: m.unknowns() for name, m in sorted(self.modules.items()) if m.unknowns()}


def _read_dir(directory: Path) -> dict[str, tuple[Manifest, str]]:
    found: dict[str, tuple[Manifest, str]] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.yaml")):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidConfig(f"{path}: cannot read: {exc.strerror}") from None
        manifest = parse_manifest(text, str(path))
        name = manifest.metadata.name
        if name in found:
            raise InvalidConfig(f"{path}: module {name!r} is already defined in {found[name][1]}")
        found[name] = (manifest, str(path))
    return found


def load_catalog(shipped: Path, admin: Path) -> Catalog:
    entries = _read_dir(shipped)
    entries.update(_read_dir(admin))  # same module name: the administrator's manifest wins
    return Catalog(
        modules={name: m for name, (m, _) in entries.items()},
        sources={name: src for name, (_, src) in entries.items()},
    )

"""The registry: every module manifest the agent knows, by name.

Shipped manifests live in /usr/share/localaistack/catalog/, an administrator's
in /etc/localaistack/catalog.d/. An admin manifest whose metadata.name equals a
shipped one replaces it; others add modules. Two files of the same directory
naming the same module are an error naming both.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from lais_agent.catalog.manifest import Manifest
from lais_agent.catalog.signing import NO_KEYS, TrustedKeys, verify
from lais_agent.documents import parse_with_data
from lais_agent.errors import InvalidConfig

logger = logging.getLogger(__name__)
_ADAPTER: TypeAdapter[Manifest] = TypeAdapter(Manifest)
CACHE_FORMAT = 3
HINT = "see docs/modules.md for the manifest format; `laisctl catalog validate FILE` checks one"


def parse_manifest(
    text: str, source: str, keys: TrustedKeys = NO_KEYS
) -> tuple[Manifest, str | None]:
    """The validated manifest and the id of the key that signed it (None: unsigned).
    A signature that does not verify is an InvalidConfig naming the file."""
    manifest, data = parse_with_data(text, source, _ADAPTER, hint=HINT)
    return manifest, verify(data, keys, source)


@dataclass(frozen=True)
class Catalog:
    modules: dict[str, Manifest]
    sources: dict[str, str]  # module name -> file it came from
    signed_by: dict[str, str]  # module name -> id of the key whose signature verified

    def unknowns(self) -> dict[str, list[str]]:
        return {name: m.unknowns() for name, m in sorted(self.modules.items()) if m.unknowns()}


class ParseCache:
    """Validated manifests keyed by (path, size, mtime): YAML parsing costs ~0.8 ms a
    manifest even with libyaml, reading validated JSON back ~0.05 ms. Like .pyc files,
    an entry is used only while its file is unchanged; a damaged cache is ignored."""

    def __init__(self, path: Path | None, keys: TrustedKeys = NO_KEYS) -> None:
        self._path = path
        self._keys = keys
        self._header = {
            "format": CACHE_FORMAT,
            "schema": _schema_key(),
            "keys": keys.fingerprint(),  # a key removed must reject what it signed
        }
        self._old: dict[str, Any] = {}
        self._new: dict[str, Any] = {}
        if path is not None:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if all(data.get(k) == v for k, v in self._header.items()):
                    self._old = data["entries"]
            except (OSError, ValueError, KeyError, AttributeError):
                self._old = {}

    def get(self, path: Path) -> tuple[Manifest, str | None]:
        st = path.stat()
        key = str(path)
        stamp = [st.st_size, st.st_mtime_ns]
        entry = self._old.get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp:
            try:
                manifest = _ADAPTER.validate_json(entry["manifest"])
            except (ValidationError, KeyError):
                manifest = None
            if manifest is not None:
                self._new[key] = entry
                return manifest, entry.get("signed_by")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidConfig(f"{path}: cannot read: {exc.strerror}") from None
        manifest, signed_by = parse_manifest(text, key, self._keys)
        if self._path is not None:
            self._new[key] = {
                "stamp": stamp,
                "manifest": manifest.model_dump_json(),
                "signed_by": signed_by,
            }
        return manifest, signed_by

    def save(self) -> None:
        if self._path is None or self._new == self._old:
            return
        payload = {**self._header, "entries": self._new}
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".catalog-", dir=self._path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(payload, out)
            os.replace(tmp, self._path)
        except OSError as exc:  # a cache that cannot be written only costs time
            logger.warning("cannot write the catalog cache %s: %s", self._path, exc)


def _schema_key() -> str:
    from lais_agent import __version__  # noqa: PLC0415

    return __version__


@dataclass(frozen=True)
class _Entry:
    manifest: Manifest
    source: str
    signed_by: str | None


def _read_dir(directory: Path, cache: ParseCache) -> dict[str, _Entry]:
    found: dict[str, _Entry] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.yaml")):
        try:
            manifest, signed_by = cache.get(path)
        except OSError as exc:
            raise InvalidConfig(f"{path}: cannot read: {exc.strerror}") from None
        name = manifest.metadata.name
        if name in found:
            raise InvalidConfig(
                f"{path}: module {name!r} is already defined in {found[name].source}"
            )
        found[name] = _Entry(manifest, str(path), signed_by)
    return found


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing a thousand manifests allocates ~100,000 containers that all stay alive;
    the cyclic collector would rescan them again and again (a fifth of the load time,
    measured in bench/catalog_load.py). Nothing here makes cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_catalog(
    shipped: Path, admin: Path, *, cache: Path | None = None, keys: TrustedKeys = NO_KEYS
) -> Catalog:
    parsed = ParseCache(cache, keys)
    with _collector_paused():
        entries = _read_dir(shipped, parsed)
        entries.update(_read_dir(admin, parsed))  # same module name: the administrator's wins
    parsed.save()
    return Catalog(
        modules={name: e.manifest for name, e in entries.items()},
        sources={name: e.source for name, e in entries.items()},
        signed_by={name: e.signed_by for name, e in entries.items() if e.signed_by},
    )

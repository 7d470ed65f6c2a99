"""Checking a manifest for its author: the verdict as data, never an exception."""

from __future__ import annotations

from dataclasses import dataclass

from lais_agent.errors import InvalidConfig


@dataclass(frozen=True)
class ManifestCheck:
    valid: bool
    name: str | None
    versions: tuple[str, ...]
    unknowns: tuple[str, ...]  # values the manifest marks as not knowable offline
    error: str | None


def check_manifest(text: str, source: str) -> ManifestCheck:
    from lais_agent.catalog.registry import parse_manifest  # noqa: PLC0415 - pydantic: lazy

    try:
        manifest = parse_manifest(text, source)
    except InvalidConfig as exc:
        return ManifestCheck(False, None, (), (), exc.message)
    return ManifestCheck(
        valid=True,
        name=manifest.metadata.name,
        versions=tuple(v.version for v in manifest.versions),
        unknowns=tuple(manifest.unknowns()),
        error=None,
    )

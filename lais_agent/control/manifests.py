"""Checking a manifest for its author: the verdict as data, never an exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lais_agent.errors import InvalidConfig, error_text

if TYPE_CHECKING:
    from lais_agent.catalog.signing import TrustedKeys


@dataclass(frozen=True)
class ManifestCheck:
    valid: bool
    name: str | None
    versions: tuple[str, ...]
    unknowns: tuple[str, ...]  # values the manifest marks as not knowable offline
    error: str | None
    signed_by: str | None = None  # the trusted key whose signature verified


def check_manifest(text: str, source: str, keys: TrustedKeys) -> ManifestCheck:
    from lais_agent.catalog.registry import parse_manifest  # noqa: PLC0415 - pydantic: lazy

    try:
        manifest, signed_by = parse_manifest(text, source, keys)
    except InvalidConfig as exc:
        return ManifestCheck(False, None, (), (), error_text(exc))
    return ManifestCheck(
        valid=True,
        name=manifest.metadata.name,
        versions=tuple(v.version for v in manifest.versions),
        unknowns=tuple(manifest.unknowns()),
        error=None,
        signed_by=signed_by,
    )

"""Reading probe sources (sysfs, procfs, /etc files) without ever raising.

Detection must survive missing files, permission errors and odd devices: these
helpers return ``None`` and append an ``Issue`` instead of raising.
"""

from __future__ import annotations

import os
from pathlib import Path

from lais_agent.hardware.profile import Issue


def _describe(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_text(
    path: Path, issues: list[Issue], component: str, *, required: bool = True
) -> str | None:
    """The file's text, or None. A missing optional file is not an issue."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        if required:
            issues.append(Issue(component, f"{path} does not exist"))
        return None
    except OSError as exc:
        issues.append(Issue(component, f"cannot read {path}: {_describe(exc)}"))
        return None


def read_bytes(path: Path, issues: list[Issue], component: str) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        issues.append(Issue(component, f"cannot read {path}: {_describe(exc)}"))
        return None


def read_int(path: Path, issues: list[Issue], component: str) -> int | None:
    """A decimal or 0x-prefixed integer file (sysfs style); None when absent or odd."""
    text = read_text(path, issues, component, required=False)
    if text is None:
        return None
    value = text.strip()
    try:
        return int(value, 0)
    except ValueError:
        issues.append(Issue(component, f"{path} holds {value[:40]!r}, not an integer"))
        return None


def link_name(path: Path) -> str | None:
    """The last component of a symlink's target (e.g. a bound driver), or None."""
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def list_dir(path: Path, issues: list[Issue], component: str) -> list[Path]:
    """Sorted entries of a directory; [] when it does not exist."""
    try:
        return sorted(path.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        issues.append(Issue(component, f"cannot list {path}: {_describe(exc)}"))
        return []

"""The filesystem that holds the model store: type, device, size and free space."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from lais_agent.hardware.profile import Issue, Storage
from lais_agent.hardware.sources import read_text

COMPONENT = "storage"


def _unescape(field: str) -> str:
    """/proc/mounts escapes space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def find_mount(mounts_text: str, path: str) -> tuple[str, str, str] | None:
    """(mount point, filesystem type, device) of the longest mount containing path."""
    target = PurePosixPath(path)
    best: tuple[str, str, str] | None = None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        device, mount_point, fstype = _unescape(fields[0]), _unescape(fields[1]), fields[2]
        mp = PurePosixPath(mount_point)
        if (mp == target or mp in target.parents) and (
            best is None or len(mount_point) >= len(best[0])
        ):
            best = (mount_point, fstype, device)
    return best


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def probe_storage(
    store_path: str, stat_path: Path, mounts_file: Path, issues: list[Issue]
) -> Storage:
    """Probe the store directory ``store_path``; statvfs runs on ``stat_path``.

    The two differ only in tests, where the mount table is recorded but the
    free space comes from a temporary directory. The store need not exist yet:
    its nearest existing ancestor decides.
    """
    mounts = read_text(mounts_file, issues, COMPONENT)
    mount = find_mount(mounts, store_path) if mounts is not None else None
    if mounts is not None and mount is None:
        issues.append(Issue(COMPONENT, f"no mount in {mounts_file} contains {store_path}"))
    total = free = None
    try:
        st = os.statvfs(_existing_ancestor(stat_path))
        total, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    except OSError as exc:
        issues.append(Issue(COMPONENT, f"cannot stat {stat_path}: {exc.strerror}"))
    return Storage(
        path=store_path,
        mount_point=mount[0] if mount else None,
        filesystem=mount[1] if mount else None,
        device=mount[2] if mount else None,
        total_bytes=total,
        free_bytes=free,
    )

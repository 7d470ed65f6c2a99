"""The override record on disk: one JSON file, rewritten atomically, never truncated.

Each change (new override, revert) writes the whole record to a temporary file
in the same directory, fsyncs it, renames it over the old one and fsyncs the
directory: a crash leaves either the old or the new record, never half of one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lais_agent.errors import Failed, InvalidArgs, NotFound
from lais_agent.policy.overrides import Override, validate_request

FORMAT_VERSION = 1


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class OverrideStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def _read(self) -> tuple[int, list[Override]]:
        try:
            data: Any = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 1, []
        except (OSError, ValueError) as exc:
            raise Failed(f"cannot read the override record {self._path}: {exc}") from None
        if data.get("version") != FORMAT_VERSION:
            raise Failed(
                f"{self._path} has format {data.get('version')!r}; expected {FORMAT_VERSION}"
            )
        records = [
            Override(
                **{
                    **o,
                    "allow_runtimes": tuple(o.get("allow_runtimes", ())),
                    "deny_runtimes": tuple(o.get("deny_runtimes", ())),
                }
            )
            for o in data.get("overrides", [])
        ]
        return int(data.get("next_id", len(records) + 1)), records

    def _write(self, next_id: int, records: list[Override]) -> None:
        payload = {
            "version": FORMAT_VERSION,
            "next_id": next_id,
            "overrides": [dataclasses.asdict(o) for o in records],
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".overrides-", dir=self._path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(payload, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self._path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def all(self) -> list[Override]:
        with self._lock:
            return self._read()[1]

    def add(
        self,
        *,
        uid: int,
        user: str,
        reason: str,
        limits: dict[str, float],
        allow: tuple[str, ...],
        deny: tuple[str, ...],
    ) -> Override:
        problems = validate_request(limits, allow, deny, reason)
        if problems:
            raise InvalidArgs("; ".join(problems))
        with self._lock:
            next_id, records = self._read()
            override = Override(
                id=f"ovr-{next_id}",
                created_at=_now(),
                uid=uid,
                user=user,
                reason=reason.strip(),
                limits=dict(limits),
                allow_runtimes=allow,
                deny_runtimes=deny,
            )
            self._write(next_id + 1, [*records, override])
            return override

    def revert(self, override_id: str, *, user: str, reason: str) -> Override:
        if not reason.strip():
            raise InvalidArgs("a reason is required to revert an override")
        with self._lock:
            next_id, records = self._read()
            for i, record in enumerate(records):
                if record.id != override_id:
                    continue
                if not record.active:
                    raise InvalidArgs(f"{override_id} was already reverted at {record.reverted_at}")
                records[i] = dataclasses.replace(
                    record, reverted_at=_now(), reverted_by=user, revert_reason=reason.strip()
                )
                self._write(next_id, records)
                return records[i]
        raise NotFound(f"no override {override_id!r}", hint="`laisctl policy history` lists them")

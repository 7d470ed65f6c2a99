"""The installed-modules store: what is on this host, in the state database.

Per installed module: version, execution mode, lifecycle state, payload directory and the
sha256 of each file in it, settings (key -> JSON value), ports, the unit files written for
it (path -> sha256, so an administrator's edit is detectable) and, kept after uninstall,
its history (operation, from/to version, time, uid, result).

Reads return frozen dataclasses. Every change happens inside ``with store.transaction()
as tx:``: committed when the block ends, rolled back entirely when it raises. A state
change goes through ``lifecycle.check``; an illegal one raises ``IllegalTransition``
before anything is written. A module with no row is ``available``; moving one to
``available`` (uninstall, an undone install) deletes its row, and with it its payload
hashes, settings, ports and unit files; its history stays.

How a lifecycle job uses it: one transaction per step that must be durable (the row in
``resolved`` before the first download, so a crash leaves a record), then one when it is
done (hashes, units, ports, ``installed``/``running`` and a history entry). A job that
fails undoes its steps and then records its failure in a transaction of its own, since the
failing one rolled back. Ports are allocated inside the transaction that records them, so
two modules never share one.

The policy-override record (control/overrides.py) stays a JSON file for now: it is already
crash-safe (written whole, fsynced, renamed), no change touches an override and a module
in one step (so nothing needs one transaction over both), and moving it means migrating
the files of hosts that have one (a migration here that reads the file) plus rewriting
that store and its tests, which is not trivial. It can move in one later migration.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Literal, Union, cast

from lais_agent.errors import InvalidArgs, NotFound
from lais_agent.state import db, lifecycle
from lais_agent.state.lifecycle import State
from lais_agent.state.ports import PortBinding, PortRequest, Protocol, pick_ports

logger = logging.getLogger(__name__)

JsonValue = Union[None, bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"]]
Result = Literal["ok", "failed", "cancelled"]
RESULTS: tuple[Result, ...] = ("ok", "failed", "cancelled")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class FileHash:
    path: str  # payload files: relative to the payload directory; unit files: absolute
    sha256: str


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    module: str
    operation: str  # install, start, stop, uninstall, repair, set, ...
    from_version: str | None
    to_version: str | None
    at: str  # ISO 8601, UTC, seconds
    uid: int | None  # the caller's uid; None when the agent acted by itself
    result: Result
    detail: str


@dataclass(frozen=True)
class InstalledModule:
    name: str
    version: str
    mode: str
    state: State
    payload_path: Path | None
    payload_files: tuple[FileHash, ...]  # sorted by path
    settings: Mapping[str, JsonValue] = field(hash=False)  # read-only
    ports: tuple[PortBinding, ...]  # sorted by name
    unit_files: tuple[FileHash, ...]  # sorted by path
    created_at: str
    updated_at: str


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _not_installed(name: str) -> NotFound:
    return NotFound(f"module {name} is not installed", hint=f"`laisctl install {name}` installs it")


def _hashes(files: Mapping[str, str], *, absolute: bool) -> list[tuple[str, str]]:
    rows = []
    for path, digest in files.items():
        pure = PurePosixPath(path)
        if absolute != pure.is_absolute() or ".." in pure.parts or str(pure) != path:
            kind = "an absolute" if absolute else "a relative"
            raise InvalidArgs(f"{path!r} is not {kind} normalized path")
        if not _SHA256.match(digest):
            raise InvalidArgs(f"the sha256 of {path} is not 64 lowercase hex digits: {digest!r}")
        rows.append((path, digest))
    return rows


class _Reader:
    """The read queries, shared by the store and a transaction (which sees its own
    writes)."""

    def _read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def get(self, name: str) -> InstalledModule | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT name, version, mode, state, payload_path, created_at, updated_at"
                " FROM modules WHERE name = ?",
                (name,),
            ).fetchone()
            return None if row is None else _module(conn, row)

    def state_of(self, name: str) -> State:
        with self._read() as conn:
            row = conn.execute("SELECT state FROM modules WHERE name = ?", (name,)).fetchone()
            return State.AVAILABLE if row is None else State(row[0])

    def modules(self) -> tuple[InstalledModule, ...]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT name, version, mode, state, payload_path, created_at, updated_at"
                " FROM modules ORDER BY name"
            ).fetchall()
            return tuple(_module(conn, row) for row in rows)

    def history(
        self, module: str | None = None, limit: int | None = None
    ) -> tuple[HistoryEntry, ...]:
        """Newest first."""
        query = (
            "SELECT id, module, operation, from_version, to_version, at, uid, result, detail"
            " FROM history"
        )
        args: list[object] = []
        if module is not None:
            query += " WHERE module = ?"
            args.append(module)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self._read() as conn:
            return tuple(HistoryEntry(*row) for row in conn.execute(query, args))

    def ports_in_use(self) -> dict[tuple[int, str], str]:
        """(port, protocol) -> the module holding it."""
        with self._read() as conn:
            return {
                (port, protocol): module
                for module, port, protocol in conn.execute(
                    "SELECT module, port, protocol FROM ports"
                )
            }


def _module(conn: sqlite3.Connection, row: tuple[object, ...]) -> InstalledModule:
    name = cast(str, row[0])
    payload_files = tuple(
        FileHash(path, digest)
        for path, digest in conn.execute(
            "SELECT path, sha256 FROM payload_files WHERE module = ? ORDER BY path", (name,)
        )
    )
    settings = {
        key: json.loads(value)
        for key, value in conn.execute(
            "SELECT key, value FROM settings WHERE module = ? ORDER BY key", (name,)
        )
    }
    ports = tuple(
        PortBinding(port_name, port, protocol)
        for port_name, port, protocol in conn.execute(
            "SELECT name, port, protocol FROM ports WHERE module = ? ORDER BY name", (name,)
        )
    )
    units = tuple(
        FileHash(path, digest)
        for path, digest in conn.execute(
            "SELECT path, sha256 FROM unit_files WHERE module = ? ORDER BY path", (name,)
        )
    )
    return InstalledModule(
        name=name,
        version=cast(str, row[1]),
        mode=cast(str, row[2]),
        state=State(row[3]),
        payload_path=None if row[4] is None else Path(cast(str, row[4])),
        payload_files=payload_files,
        settings=MappingProxyType(settings),
        ports=ports,
        unit_files=units,
        created_at=cast(str, row[5]),
        updated_at=cast(str, row[6]),
    )


class Transaction(_Reader):
    """The writes of one transaction; usable only inside its ``with`` block."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], datetime]) -> None:
        self._connection: sqlite3.Connection | None = conn
        self._clock = clock
        self.changed: set[str] = set()  # modules this transaction changed

    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("this transaction has ended")
        return self._connection

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        yield self._conn()

    def _now(self) -> str:
        return self._clock().astimezone(timezone.utc).replace(microsecond=0).isoformat()

    def _require(self, name: str) -> None:
        if self.state_of(name) is State.AVAILABLE:
            raise _not_installed(name)

    def _touch(self, name: str) -> None:
        self.changed.add(name)
        self._conn().execute(
            "UPDATE modules SET updated_at = ? WHERE name = ?", (self._now(), name)
        )

    def begin_install(
        self, name: str, version: str, mode: str, payload_path: Path | None = None
    ) -> InstalledModule:
        """The module's row, in ``resolved``: an install of ``version`` in ``mode`` has
        begun. ``IllegalTransition`` when it has a row already."""
        lifecycle.check(name, self.state_of(name), State.RESOLVED)
        now = self._now()
        self._conn().execute(
            "INSERT INTO modules (name, version, mode, state, payload_path, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                version,
                mode,
                State.RESOLVED.value,
                None if payload_path is None else str(payload_path),
                now,
                now,
            ),
        )
        self.changed.add(name)
        module = self.get(name)
        assert module is not None
        return module

    def set_state(self, name: str, to: State) -> str:
        """Move ``name`` to ``to`` and return the edge's operation (``start``, ...);
        ``IllegalTransition`` and nothing written when the lifecycle has no such edge.
        ``available`` deletes the module's row and everything hanging off it but its
        history."""
        op = lifecycle.check(name, self.state_of(name), to)
        conn = self._conn()
        if to is State.AVAILABLE:
            conn.execute("DELETE FROM modules WHERE name = ?", (name,))
        else:
            conn.execute("UPDATE modules SET state = ? WHERE name = ?", (to.value, name))
        self._touch(name)
        return op

    def set_payload(self, name: str, path: Path, files: Mapping[str, str]) -> None:
        """The payload directory and the sha256 of every file in it (paths relative to
        it), replacing what was recorded."""
        self._require(name)
        rows = _hashes(files, absolute=False)
        conn = self._conn()
        conn.execute("UPDATE modules SET payload_path = ? WHERE name = ?", (str(path), name))
        conn.execute("DELETE FROM payload_files WHERE module = ?", (name,))
        conn.executemany(
            "INSERT INTO payload_files (module, path, sha256) VALUES (?, ?, ?)",
            [(name, p, d) for p, d in rows],
        )
        self._touch(name)

    def set_unit_files(self, name: str, files: Mapping[str, str]) -> None:
        """The unit files written for ``name`` (absolute path -> sha256 of what was
        written), replacing what was recorded. A path belongs to one module."""
        self._require(name)
        rows = _hashes(files, absolute=True)
        conn = self._conn()
        conn.execute("DELETE FROM unit_files WHERE module = ?", (name,))
        for path, digest in rows:
            owner = conn.execute("SELECT module FROM unit_files WHERE path = ?", (path,)).fetchone()
            if owner is not None:
                raise InvalidArgs(f"unit file {path} for {name} belongs to module {owner[0]}")
            conn.execute(
                "INSERT INTO unit_files (module, path, sha256) VALUES (?, ?, ?)",
                (name, path, digest),
            )
        self._touch(name)

    def set_setting(self, name: str, key: str, value: JsonValue) -> None:
        """One setting; the caller has checked ``key`` and ``value`` against the
        manifest."""
        self._require(name)
        if not key:
            raise InvalidArgs(f"a setting of {name} needs a name")
        try:
            text = json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgs(f"setting {key} of {name} is not a JSON value: {exc}") from None
        self._conn().execute(
            "INSERT INTO settings (module, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (module, key) DO UPDATE SET value = excluded.value",
            (name, key, text),
        )
        self._touch(name)

    def unset_setting(self, name: str, key: str) -> bool:
        """Back to the manifest's default; whether it was set."""
        self._require(name)
        gone = (
            self._conn()
            .execute("DELETE FROM settings WHERE module = ? AND key = ?", (name, key))
            .rowcount
        )
        self._touch(name)
        return gone > 0

    def allocate_ports(
        self,
        name: str,
        requests: Sequence[PortRequest],
        host_taken: Iterable[tuple[int, Protocol]] = (),
    ) -> tuple[PortBinding, ...]:
        """Ports for ``requests`` (the manifest's, a user's ``port`` setting as ``exact``),
        replacing what ``name`` held: each its default unless another module holds it or it
        is in ``host_taken`` (what else listens here, as the caller found), else a free
        one. The module's own earlier ports count as free for it."""
        self._require(name)
        owners = {k: m for k, m in self.ports_in_use().items() if m != name}
        taken = set(owners) | set(host_taken)
        chosen = pick_ports(name, requests, taken, owners=owners)
        conn = self._conn()
        conn.execute("DELETE FROM ports WHERE module = ?", (name,))
        conn.executemany(
            "INSERT INTO ports (module, name, port, protocol) VALUES (?, ?, ?, ?)",
            [(name, b.name, b.port, b.protocol) for b in chosen],
        )
        self._touch(name)
        return chosen

    def record(
        self,
        module: str,
        operation: str,
        *,
        result: Result = "ok",
        from_version: str | None = None,
        to_version: str | None = None,
        uid: int | None = None,
        detail: str = "",
    ) -> HistoryEntry:
        """One history entry (the module need not be installed: a failed install is
        recorded after its row was undone)."""
        if result not in RESULTS:
            raise InvalidArgs(f"history result {result!r} is not one of {RESULTS}")
        at = self._now()
        cursor = self._conn().execute(
            "INSERT INTO history (module, operation, from_version, to_version, at, uid,"
            " result, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (module, operation, from_version, to_version, at, uid, result, detail),
        )
        entry_id = cursor.lastrowid
        assert entry_id is not None
        return HistoryEntry(
            entry_id, module, operation, from_version, to_version, at, uid, result, detail
        )


class StateStore(_Reader):
    """The state database of one agent. Thread-safe: one connection, one lock; a
    transaction holds the lock for its whole block. Blocking (SQLite is local and fast,
    but a second writer may make a transaction wait up to the busy timeout): call it from a
    worker thread where the event loop must not wait."""

    def __init__(
        self, conn: sqlite3.Connection, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._connection = conn
        self._clock = clock
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._listeners: list[Callable[[frozenset[str]], None]] = []

    def subscribe(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call ``listener`` with the names of the modules a transaction changed, after it
        committed (never for one rolled back), on the committing thread, with the store
        free to read. The bus uses it for PropertiesChanged: hop to the event loop with
        ``loop.call_soon_threadsafe`` when the commit was in a worker thread."""
        self._listeners.append(listener)

    @classmethod
    def open(
        cls,
        state_dir: Path,
        *,
        clock: Callable[[], datetime] = _utcnow,
        busy_timeout_s: float = db.BUSY_TIMEOUT_S,
    ) -> StateStore:
        return cls(db.connect(state_dir, busy_timeout_s=busy_timeout_s), clock=clock)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        if self._owner == threading.get_ident():
            raise RuntimeError("state store transactions do not nest")
        with self._lock:
            self._owner = threading.get_ident()
            try:
                yield self._connection
            finally:
                self._owner = None

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._locked() as conn, db.transaction(conn, write=False):
            yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``with store.transaction() as tx:`` — all of the block's writes or none."""
        with self._locked() as conn:
            tx = Transaction(conn, self._clock)
            try:
                with db.transaction(conn):
                    yield tx
            finally:
                tx._connection = None  # ends the handle, in or out of errors
        if tx.changed:
            changed = frozenset(tx.changed)
            for listener in self._listeners:
                try:
                    listener(changed)
                except Exception:  # committed is committed: a listener's bug is only logged
                    logger.exception("state listener %r failed", listener)

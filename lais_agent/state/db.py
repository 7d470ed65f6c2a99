"""The state database: ``<state_dir>/state.db``, SQLite in WAL mode, versioned schema.

Opening it:

- creates the state directory (0700) when it is missing — in production systemd's
  ``StateDirectory=`` and tmpfiles.d create it 0755 first, because ``models/`` below it is
  readable by group ``lais-models``, so an existing directory's mode is left alone;
- creates ``state.db`` 0600 and tightens a looser one (settings may hold secrets); SQLite
  gives the ``-wal`` and ``-shm`` files the database file's mode;
- sets WAL (readers never block the writer), ``synchronous=FULL`` (a committed install
  survives a power cut; writes are rare), foreign keys on, and a busy timeout so a second
  connection waits for the writer instead of failing at once;
- migrates: ``PRAGMA user_version`` is the schema version, ``MIGRATIONS[i]`` takes a
  database from version ``i`` to ``i + 1``; every pending one runs in one ``BEGIN
  IMMEDIATE`` transaction with the version bump, so a failure leaves the old schema and
  data as they were. A database newer than this code is refused, never downgraded.

Adding a schema version: append a migration, never edit one that shipped, and add
``tests/fixtures/state/v<N>.sql`` — the dump of the schema *before* it, with rows — so the
test that opens every earlier version covers it. Migrations run with foreign keys on
(SQLite ignores ``PRAGMA foreign_keys`` inside a transaction): a table rebuild must create
the new table, copy, drop and rename in that order, and ``foreign_key_check`` runs before
the commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from lais_agent.errors import Busy, Failed

logger = logging.getLogger(__name__)

DB_NAME = "state.db"
BUSY_TIMEOUT_S = 5.0

Migration = Callable[[sqlite3.Connection], None]


class StateTooNew(Failed):
    """The database was written by a newer LocalAIStack than this one."""

    code = "state-too-new"


class StateUnreadable(Failed):
    """The state database cannot be opened, read or migrated."""

    code = "state-unreadable"


class StateBusy(Busy):
    """Another connection held the state database's write lock past the busy timeout."""

    code = "state-busy"


def _rollback(conn: sqlite3.Connection) -> None:
    # Some errors (SQLITE_FULL, SQLITE_IOERR, ...) end the transaction themselves.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _begin(conn: sqlite3.Connection, statement: str) -> None:
    try:
        conn.execute(statement)
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise StateBusy(
            f"the state database {_db_path(conn)} is locked by another writer",
            hint="another lais-agent or an sqlite3 shell holds it; try again when it is done",
        ) from None


def sql(*statements: str) -> Migration:
    """A migration made of SQL statements, run one by one (``executescript`` would commit
    the migration's transaction before its first statement)."""

    def migrate(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    migrate.__doc__ = statements[0] if statements else ""
    return migrate


_V1 = sql(
    """CREATE TABLE modules (
        name TEXT PRIMARY KEY NOT NULL,
        version TEXT NOT NULL,
        mode TEXT NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('resolved', 'installed', 'running', 'stopped', 'failed')),
        payload_path TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE payload_files (
        module TEXT NOT NULL REFERENCES modules (name) ON DELETE CASCADE,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
        PRIMARY KEY (module, path)
    ) STRICT""",
    """CREATE TABLE settings (
        module TEXT NOT NULL REFERENCES modules (name) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (module, key)
    ) STRICT""",
    # No foreign key: the history of a module outlives its uninstall.
    """CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        module TEXT NOT NULL,
        operation TEXT NOT NULL,
        from_version TEXT,
        to_version TEXT,
        at TEXT NOT NULL,
        uid INTEGER,
        result TEXT NOT NULL CHECK (result IN ('ok', 'failed', 'cancelled')),
        detail TEXT NOT NULL DEFAULT ''
    ) STRICT""",
    "CREATE INDEX history_by_module ON history (module, id)",
)

_V2 = sql(
    """CREATE TABLE ports (
        module TEXT NOT NULL REFERENCES modules (name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        protocol TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
        PRIMARY KEY (module, name),
        UNIQUE (port, protocol)
    ) STRICT""",
    """CREATE TABLE unit_files (
        module TEXT NOT NULL REFERENCES modules (name) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE,
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
        PRIMARY KEY (module, path)
    ) STRICT""",
)

# MIGRATIONS[i] takes a database from schema version i to i + 1 (0 is an empty file).
MIGRATIONS: tuple[Migration, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(
    conn: sqlite3.Connection, path: Path | str, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Bring ``conn`` (autocommit, i.e. ``isolation_level=None``) to ``len(migrations)``;
    returns the version it was at."""
    _begin(conn, "BEGIN IMMEDIATE")
    try:
        found = schema_version(conn)  # read under the write lock: one migrator wins
        if found > len(migrations):
            raise StateTooNew(
                f"{path} has schema version {found}; this lais-agent knows versions up to "
                f"{len(migrations)}",
                hint="it was written by a newer LocalAIStack: install that version again, "
                "or restore a backup of the state directory",
            )
        for version in range(found, len(migrations)):
            migrations[version](conn)
            logger.info("state database %s migrated to schema version %d", path, version + 1)
        if found != len(migrations):
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise StateUnreadable(f"{path}: migration left rows that break foreign keys")
            conn.execute(f"PRAGMA user_version = {len(migrations):d}")
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return found


def _secure_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            logger.warning("%s was mode %04o; making it 0600", path, mode)
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def connect(
    state_dir: Path,
    *,
    busy_timeout_s: float = BUSY_TIMEOUT_S,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> sqlite3.Connection:
    """An open, migrated connection to ``state_dir/state.db`` in autocommit mode (the
    caller opens its transactions with ``BEGIN``), usable from any one thread at a time."""
    path = state_dir / DB_NAME
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _secure_file(path)
    except OSError as exc:
        raise StateUnreadable(f"cannot create the state database {path}: {exc}") from None
    # timeout= is SQLite's busy timeout; isolation_level=None: no implicit transactions.
    conn = sqlite3.connect(
        path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StateUnreadable(f"{path}: cannot use WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path, migrations)
    except sqlite3.Error as exc:
        conn.close()
        raise StateUnreadable(f"cannot open the state database {path}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back when it raises.
    ``write`` takes the write lock at the start (``BEGIN IMMEDIATE``), so the busy timeout
    covers waiting for another writer and a transaction never fails half-way to upgrade;
    a reader (``BEGIN``) sees one snapshot across its statements and never waits (WAL)."""
    _begin(conn, "BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _db_path(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else DB_NAME

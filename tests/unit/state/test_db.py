"""The state database: WAL, modes, migrations from every earlier schema, concurrency."""

from __future__ import annotations

import re
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from lais_agent.state import db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "state"
DUMPS = sorted(FIXTURES.glob("v*.sql"), key=lambda p: int(p.stem[1:]))


def _version_of(dump: Path) -> int:
    return int(dump.stem[1:])


def _load(dump: Path, state_dir: Path) -> Path:
    """A state directory holding the database of the dump, as a host of that version has."""
    state_dir.mkdir(exist_ok=True)
    path = state_dir / db.DB_NAME
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(dump.read_text())
    finally:
        conn.close()
    return path


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Tables and indexes as SQLite holds them, whitespace normalized."""
    return [
        (kind, name, re.sub(r"\s+", " ", text))
        for kind, name, text in conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        )
    ]


def _fresh_schema(tmp_path: Path, migrations: tuple[db.Migration, ...]) -> list[tuple[str, ...]]:
    conn = db.connect(tmp_path / f"fresh-{len(migrations)}", migrations=migrations)
    try:
        return list(_schema(conn))
    finally:
        conn.close()


def _open_plain(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_a_new_database_is_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    conn = db.connect(tmp_path, busy_timeout_s=2.5)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db.schema_version(conn) == db.SCHEMA_VERSION == len(db.MIGRATIONS)
    finally:
        conn.close()
    other = _open_plain(tmp_path / db.DB_NAME)  # WAL is a property of the file
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_files_are_root_only(tmp_path: Path) -> None:
    state_dir = tmp_path / "new" / "state"
    conn = db.connect(state_dir)
    try:
        conn.execute(
            "INSERT INTO history (module, operation, at, result) VALUES ('m', 'x', 't', 'ok')"
        )
        # while open: the WAL and its index exist, with the database file's mode
        for name in (db.DB_NAME, f"{db.DB_NAME}-wal", f"{db.DB_NAME}-shm"):
            assert stat.S_IMODE((state_dir / name).stat().st_mode) == 0o600, name
    finally:
        conn.close()
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_a_loose_database_file_is_tightened_and_the_directory_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # as tmpfiles.d makes /var/lib/localaistack (models/ is shared)
    path = tmp_path / db.DB_NAME
    path.touch(mode=0o644)
    path.chmod(0o644)
    db.connect(tmp_path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_every_earlier_schema_has_a_dump() -> None:
    assert [_version_of(d) for d in DUMPS] == list(range(1, db.SCHEMA_VERSION))


@pytest.mark.parametrize("dump", DUMPS, ids=[d.stem for d in DUMPS])
def test_each_dump_is_the_schema_its_migrations_made(dump: Path, tmp_path: Path) -> None:
    """A shipped migration must never change: its dump is what hosts have."""
    conn = _open_plain(_load(dump, tmp_path / "old"))
    try:
        assert db.schema_version(conn) == _version_of(dump)
        old = _schema(conn)
    finally:
        conn.close()
    assert old == _fresh_schema(tmp_path, db.MIGRATIONS[: _version_of(dump)])


@pytest.mark.parametrize("dump", DUMPS, ids=[d.stem for d in DUMPS])
def test_a_database_of_every_earlier_schema_opens_and_migrates(dump: Path, tmp_path: Path) -> None:
    path = _load(dump, tmp_path / "state")
    before = _open_plain(path)
    try:
        rows_before = {
            table: before.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for (table,) in before.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    finally:
        before.close()
    conn = db.connect(tmp_path / "state")
    try:
        assert db.schema_version(conn) == db.SCHEMA_VERSION
        assert _schema(conn) == _fresh_schema(tmp_path, db.MIGRATIONS)
        for table, rows in rows_before.items():
            assert conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() == rows
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def test_v1_rows_work_with_the_tables_v2_added(tmp_path: Path) -> None:
    _load(FIXTURES / "v1.sql", tmp_path)
    conn = db.connect(tmp_path)
    try:
        conn.execute("INSERT INTO ports VALUES ('llama.cpp', 'http', 8080, 'tcp')")
        conn.execute(f"INSERT INTO unit_files VALUES ('redis', '/etc/x.service', '{'a' * 64}')")
        with pytest.raises(sqlite3.IntegrityError):  # foreign keys hold on migrated rows
            conn.execute("INSERT INTO ports VALUES ('nope', 'http', 8081, 'tcp')")
    finally:
        conn.close()


def test_reopening_a_current_database_changes_nothing(tmp_path: Path) -> None:
    db.connect(tmp_path).close()
    calls: list[int] = []

    def counting(conn: sqlite3.Connection) -> None:
        calls.append(1)

    migrations = (*db.MIGRATIONS, counting)
    db.connect(tmp_path, migrations=migrations).close()
    db.connect(tmp_path, migrations=migrations).close()
    assert calls == [1]


def test_a_newer_database_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    db.connect(tmp_path).close()
    newer = db.SCHEMA_VERSION + 1
    plain = _open_plain(tmp_path / db.DB_NAME)
    plain.execute(f"PRAGMA user_version = {newer}")
    plain.close()
    with pytest.raises(db.StateTooNew) as caught:
        db.connect(tmp_path)
    assert f"schema version {newer}" in str(caught.value)
    assert f"up to {db.SCHEMA_VERSION}" in str(caught.value)
    assert str(tmp_path / db.DB_NAME) in str(caught.value)
    assert caught.value.hint is not None
    assert "newer LocalAIStack" in caught.value.hint
    plain = _open_plain(tmp_path / db.DB_NAME)
    try:
        assert db.schema_version(plain) == newer
    finally:
        plain.close()


def test_a_failing_migration_leaves_the_old_schema(tmp_path: Path) -> None:
    _load(FIXTURES / "v1.sql", tmp_path)

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x INTEGER)")
        conn.execute("DELETE FROM settings")
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(db.StateUnreadable, match="disk I/O error"):
        db.connect(tmp_path, migrations=(db.MIGRATIONS[0], half_done))
    plain = _open_plain(tmp_path / db.DB_NAME)
    try:
        assert db.schema_version(plain) == 1
        names = {n for (n,) in plain.execute("SELECT name FROM sqlite_master")}
        assert "half" not in names
        assert plain.execute("SELECT count(*) FROM settings").fetchone()[0] == 3
    finally:
        plain.close()


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / db.DB_NAME).write_bytes(b"this is not sqlite, it is a text file" * 100)
    with pytest.raises(db.StateUnreadable, match="cannot open the state database"):
        db.connect(tmp_path)


def test_an_uncreatable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(db.StateUnreadable, match="cannot create the state database"):
        db.connect(tmp_path / "file" / "state")


def test_a_transaction_commits_or_rolls_back(tmp_path: Path) -> None:
    conn = db.connect(tmp_path)
    insert = "INSERT INTO history (module, operation, at, result) VALUES (?, 'x', 't', 'ok')"
    try:
        with db.transaction(conn):
            conn.execute(insert, ("kept",))

        def failing() -> None:
            with db.transaction(conn):
                conn.execute(insert, ("gone",))
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            failing()
        assert not conn.in_transaction
        assert conn.execute("SELECT module FROM history").fetchall() == [("kept",)]
    finally:
        conn.close()


def test_a_second_connection_waits_for_the_writer(tmp_path: Path) -> None:
    first = db.connect(tmp_path)
    second = db.connect(tmp_path, busy_timeout_s=5)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.transaction(first):
            first.execute(
                "INSERT INTO history (module, operation, at, result) VALUES ('a', 'x', 't', 'ok')"
            )
            holding.set()
            release.wait(5)
            time.sleep(0.3)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(5)
        # a reader is never blocked in WAL, and sees the last commit only
        with db.transaction(second, write=False):
            assert second.execute("SELECT count(*) FROM history").fetchone()[0] == 0
        release.set()
        started = time.monotonic()
        with db.transaction(second):
            waited = time.monotonic() - started
            second.execute(
                "INSERT INTO history (module, operation, at, result) VALUES ('b', 'x', 't', 'ok')"
            )
        assert waited >= 0.2
        assert [m for (m,) in second.execute("SELECT module FROM history ORDER BY id")] == [
            "a",
            "b",
        ]
    finally:
        release.set()
        thread.join()
        first.close()
        second.close()


def test_a_writer_held_past_the_busy_timeout_is_busy(tmp_path: Path) -> None:
    first = db.connect(tmp_path)
    second = db.connect(tmp_path, busy_timeout_s=0.1)
    try:
        with db.transaction(first):
            with pytest.raises(db.StateBusy) as caught, db.transaction(second):
                pass
            assert str(tmp_path / db.DB_NAME) in str(caught.value)
            assert caught.value.code == "state-busy"
            assert not second.in_transaction
    finally:
        first.close()
        second.close()


def test_other_errors_at_begin_are_not_busy(tmp_path: Path) -> None:
    conn = db.connect(tmp_path)
    try:
        conn.execute("BEGIN")
        with pytest.raises(sqlite3.OperationalError, match="within a transaction"):  # noqa: SIM117
            with db.transaction(conn):
                pass
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_a_migration_that_breaks_foreign_keys_is_rolled_back(tmp_path: Path) -> None:
    _load(FIXTURES / "v1.sql", tmp_path)

    def orphan(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA defer_foreign_keys = ON")  # or a table rebuild would be refused
        conn.execute(f"INSERT INTO payload_files VALUES ('gone', 'x', '{'a' * 64}')")

    with pytest.raises(db.StateUnreadable, match="break foreign keys"):
        db.connect(tmp_path, migrations=(db.MIGRATIONS[0], orphan))
    plain = _open_plain(tmp_path / db.DB_NAME)
    try:
        assert db.schema_version(plain) == 1
        assert plain.execute("SELECT count(*) FROM payload_files").fetchone()[0] == 2
    finally:
        plain.close()


def test_an_error_that_ended_the_transaction_itself_is_raised_as_it_is(tmp_path: Path) -> None:
    """SQLITE_FULL and SQLITE_IOERR roll back by themselves; no second ROLLBACK then."""
    conn = db.connect(tmp_path)

    def failing() -> None:
        with db.transaction(conn):
            conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")

    try:
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            failing()
        assert not conn.in_transaction
    finally:
        conn.close()

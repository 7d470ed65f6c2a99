"""The exact words and values of the state core: refusal messages and hints, log lines,
what a write records (the module it touched, its time, canonical JSON), port bounds."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from lais_agent.errors import IllegalTransition, InvalidArgs
from lais_agent.state import db, lifecycle
from lais_agent.state import store as store_mod
from lais_agent.state.lifecycle import State
from lais_agent.state.ports import PortRequest, PortTaken, pick_ports
from lais_agent.state.store import StateStore
from tests.unit.state.test_store import Clock

# ---------------------------------------------------------------- db


class _BusyConn:
    """A connection whose BEGIN fails with ``message``; ``database_list`` gives ``row``."""

    def __init__(self, message: str, row: tuple[object, ...] | None) -> None:
        self.message, self.row = message, row

    def execute(self, statement: str) -> Any:
        if statement.startswith("BEGIN"):
            raise sqlite3.OperationalError(self.message)
        assert statement == "PRAGMA database_list"
        row = self.row

        class Cursor:
            def fetchone(self) -> tuple[object, ...] | None:
                return row

        return Cursor()


@pytest.mark.parametrize("message", ["database is locked", "the database is busy"])
def test_locked_or_busy_at_begin_is_state_busy_with_its_hint(message: str) -> None:
    conn: Any = _BusyConn(message, (0, "main", "/s/state.db"))
    with pytest.raises(db.StateBusy) as caught:
        db.transaction(conn).__enter__()
    assert caught.value.message == "the state database /s/state.db is locked by another writer"
    assert caught.value.hint == (
        "another lais-agent or an sqlite3 shell holds it; try again when it is done"
    )


def test_a_connection_without_a_main_database_is_named_by_the_file_name() -> None:
    conn: Any = _BusyConn("database is locked", None)
    with pytest.raises(db.StateBusy, match=r"^the state database state\.db is locked"):
        db.transaction(conn).__enter__()


def test_sql_runs_each_statement_and_is_documented_by_the_first(tmp_path: Path) -> None:
    migration = db.sql("CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (7)")
    assert migration.__doc__ == "CREATE TABLE t (x INTEGER)"
    assert db.sql().__doc__ == ""
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        migration(conn)
        assert conn.execute("SELECT x FROM t").fetchall() == [(7,)]
    finally:
        conn.close()


def test_each_migration_is_logged_with_the_version_it_reached(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lais_agent.state.db")
    db.connect(tmp_path).close()
    path = tmp_path / db.DB_NAME
    assert [r.getMessage() for r in caplog.records if r.name == "lais_agent.state.db"] == [
        f"state database {path} migrated to schema version 1",
        f"state database {path} migrated to schema version 2",
    ]


def test_a_newer_database_is_refused_with_the_whole_hint(tmp_path: Path) -> None:
    db.connect(tmp_path).close()
    with pytest.raises(db.StateTooNew) as caught:
        db.connect(tmp_path, migrations=db.MIGRATIONS[:1])
    assert caught.value.hint == (
        "it was written by a newer LocalAIStack: install that version again, "
        "or restore a backup of the state directory"
    )


def test_a_new_file_is_created_0600_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = os.umask(0o022)
    try:
        db.connect(tmp_path).close()
    finally:
        os.umask(old)
    assert [r for r in caplog.records if "making it 0600" in r.getMessage()] == []
    assert (tmp_path / db.DB_NAME).stat().st_mode & 0o777 == 0o600


def test_a_loose_file_is_tightened_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / db.DB_NAME
    path.touch(0o644)
    path.chmod(0o644)
    db.connect(tmp_path).close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{path} was mode 0644; making it 0600"]


def test_a_database_that_is_a_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.db"
    state = tmp_path / "state"
    state.mkdir()
    (state / db.DB_NAME).symlink_to(target)
    with pytest.raises(db.StateUnreadable, match=r"^cannot create the state database "):
        db.connect(state)
    assert not target.exists()


# ---------------------------------------------------------------- lifecycle


def test_the_fallback_hint_lists_every_next_state() -> None:
    with pytest.raises(IllegalTransition) as caught:
        lifecycle.check("m", State.INSTALLED, State.RESOLVED)
    assert caught.value.hint == "from installed it may become: running, available, failed"


# ---------------------------------------------------------------- ports


def test_port_65535_is_a_port() -> None:
    (binding,) = pick_ports("m", [PortRequest("http", 65535)], [])
    assert binding.port == 65535


def test_a_full_range_says_what_to_do() -> None:
    with pytest.raises(PortTaken) as caught:
        pick_ports("m", [PortRequest("http", None)], [(30000, "tcp")], range(30000, 30001))
    assert caught.value.message == "no free tcp port for m (http) in 30000-30000"
    assert caught.value.hint == ("uninstall a module you no longer need, or set the port by hand")


# ---------------------------------------------------------------- store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path, clock=Clock()) as opened:
        yield opened


def _install(store: StateStore, name: str = "m") -> None:
    with store.transaction() as tx:
        tx.begin_install(name, "1", "native")
        tx.set_state(name, State.INSTALLED)


def test_the_default_clock_is_utc() -> None:
    assert store_mod._utcnow().tzinfo is timezone.utc


def test_times_are_utc_whatever_the_local_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokyo = timezone(timedelta(hours=9))
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    try:
        clock = lambda: datetime(2025, 1, 2, 12, 0, 0, 5, tzinfo=tokyo)  # noqa: E731
        with StateStore.open(tmp_path, clock=clock) as s, s.transaction() as tx:
            entry = tx.record("m", "install")
        assert entry.at == "2025-01-02T03:00:00+00:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_open_passes_the_busy_timeout_on(tmp_path: Path) -> None:
    with StateStore.open(tmp_path, busy_timeout_s=0.25) as s:
        assert s._connection.execute("PRAGMA busy_timeout").fetchone()[0] == 250


def test_a_relative_hash_path_that_is_not_normalized_says_relative(store: StateStore) -> None:
    _install(store)
    with pytest.raises(InvalidArgs) as caught, store.transaction() as tx:
        tx.set_payload("m", Path("/p"), {"a/../b": "a" * 64})
    assert caught.value.message == "'a/../b' is not a relative normalized path"
    with pytest.raises(InvalidArgs) as caught, store.transaction() as tx:
        tx.set_payload("m", Path("/p"), {"bin/x": "A" * 64})
    assert caught.value.message == (
        f"the sha256 of bin/x is not 64 lowercase hex digits: {'A' * 64!r}"
    )


def test_a_read_module_has_its_name_and_no_payload_path_unless_given(store: StateStore) -> None:
    _install(store)
    module = store.get("m")
    assert module is not None
    assert (module.name, module.payload_path) == ("m", None)
    assert [m.name for m in store.modules()] == ["m"]


def test_a_second_begin_install_names_the_module(store: StateStore) -> None:
    _install(store)
    with pytest.raises(IllegalTransition) as caught, store.transaction() as tx:
        tx.begin_install("m", "1", "native")
    assert caught.value.message == "module m cannot go from installed to resolved"


def test_a_used_up_transaction_says_it_ended(store: StateStore) -> None:
    with store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError) as caught:
        tx.get("m")
    assert str(caught.value) == "this transaction has ended"


def test_record_returns_what_history_holds(store: StateStore) -> None:
    with store.transaction() as tx:
        entry = tx.record(
            "m", "upgrade", result="failed", from_version="1", to_version="2", uid=1000
        )
        plain = tx.record("m", "start")
    assert store.history("m") == (plain, entry)
    assert (
        entry.module,
        entry.operation,
        entry.from_version,
        entry.to_version,
        entry.uid,
        entry.result,
        entry.detail,
    ) == ("m", "upgrade", "1", "2", 1000, "failed", "")
    assert entry.id == plain.id - 1
    assert entry.at == "2025-01-02T03:04:06+00:00"
    assert plain.detail == ""


def test_an_unknown_history_result_is_refused_naming_it(store: StateStore) -> None:
    with pytest.raises(InvalidArgs) as caught, store.transaction() as tx:
        tx.record("m", "x", result="maybe")  # type: ignore[arg-type]
    assert caught.value.message == (
        "history result 'maybe' is not one of ('ok', 'failed', 'cancelled')"
    )


@pytest.mark.parametrize("write", ["payload", "units", "unset"])
def test_each_write_touches_its_module(store: StateStore, write: str) -> None:
    _install(store)
    before = store.get("m")
    heard: list[frozenset[str]] = []
    store.subscribe(heard.append)
    with store.transaction() as tx:
        if write == "payload":
            tx.set_payload("m", Path("/p"), {"bin/x": "a" * 64})
        elif write == "units":
            tx.set_unit_files("m", {"/etc/systemd/system/lais-m.service": "a" * 64})
        else:
            tx.unset_setting("m", "k")
    after = store.get("m")
    assert before is not None
    assert after is not None
    assert after.updated_at > before.updated_at
    assert heard == [frozenset({"m"})]


def test_settings_are_stored_as_canonical_json(store: StateStore, tmp_path: Path) -> None:
    _install(store)
    with store.transaction() as tx:
        tx.set_setting("m", "k", {"b": 1, "a": [2, {"d": 3, "c": 4}]})
    conn = sqlite3.connect(tmp_path / db.DB_NAME)
    try:
        (text,) = conn.execute("SELECT value FROM settings").fetchone()
    finally:
        conn.close()
    assert text == '{"a": [2, {"c": 4, "d": 3}], "b": 1}'
    module = store.get("m")
    assert module is not None
    assert list(module.settings["k"]) == ["a", "b"]  # type: ignore[arg-type]


def test_a_connection_is_in_autocommit_mode(tmp_path: Path) -> None:
    conn = db.connect(tmp_path)
    try:
        assert conn.isolation_level is None
        conn.execute(
            "INSERT INTO history (module, operation, at, result) VALUES ('m', 'x', 't', 'ok')"
        )
        assert not conn.in_transaction  # no implicit BEGIN before a write
    finally:
        conn.close()

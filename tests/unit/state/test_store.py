"""The installed-modules store: transactions, lifecycle, hashes, settings, ports, history."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lais_agent.errors import IllegalTransition, InvalidArgs, NotFound
from lais_agent.state import db
from lais_agent.state.lifecycle import State
from lais_agent.state.ports import PortBinding, PortRequest, PortTaken
from lais_agent.state.store import FileHash, StateStore

SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path, clock=Clock()) as opened:
        yield opened


def _installed(store: StateStore, name: str = "llama.cpp", state: State = State.INSTALLED) -> None:
    with store.transaction() as tx:
        tx.begin_install(name, "0.1", "native", Path(f"/var/lib/localaistack/modules/{name}/0.1"))
        if state is not State.RESOLVED:
            tx.set_state(name, State.INSTALLED)
        if state in (State.RUNNING, State.STOPPED):
            tx.set_state(name, State.RUNNING)
        if state is State.STOPPED:
            tx.set_state(name, State.STOPPED)


def _count(store_dir: Path, table: str) -> int:
    conn = sqlite3.connect(store_dir / db.DB_NAME)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_a_module_without_a_row_is_available(store: StateStore) -> None:
    assert store.state_of("llama.cpp") is State.AVAILABLE
    assert store.get("llama.cpp") is None
    assert store.modules() == ()


def test_begin_install_records_a_resolved_module(store: StateStore) -> None:
    with store.transaction() as tx:
        module = tx.begin_install("llama.cpp", "0.0.6001", "native", Path("/m/llama.cpp/0.0.6001"))
    assert module == store.get("llama.cpp")
    assert module.state is State.RESOLVED
    assert (module.version, module.mode) == ("0.0.6001", "native")
    assert module.payload_path == Path("/m/llama.cpp/0.0.6001")
    assert module.created_at == module.updated_at == "2025-01-02T03:04:06+00:00"
    assert (module.payload_files, module.ports, module.unit_files) == ((), (), ())
    assert dict(module.settings) == {}


def test_reads_are_frozen(store: StateStore) -> None:
    _installed(store)
    with store.transaction() as tx:
        tx.set_setting("llama.cpp", "threads", 4)
    module = store.get("llama.cpp")
    assert module is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        module.state = State.RUNNING  # type: ignore[misc]
    with pytest.raises(TypeError):
        module.settings["threads"] = 8  # type: ignore[index]


def test_the_whole_lifecycle(store: StateStore, tmp_path: Path) -> None:
    _installed(store)
    with store.transaction() as tx:
        tx.set_payload("llama.cpp", Path("/m/l/0.1"), {"bin/llama-server": SHA_A})
        tx.set_unit_files("llama.cpp", {"/etc/systemd/system/lais-llama.cpp.service": SHA_B})
        tx.set_setting("llama.cpp", "ctx_size", 4096)
        tx.allocate_ports("llama.cpp", [PortRequest("http", 8080)])
        tx.record("llama.cpp", "install", to_version="0.1", uid=1000)
    with store.transaction() as tx:
        assert tx.set_state("llama.cpp", State.RUNNING) == "start"
    with store.transaction() as tx:
        assert tx.set_state("llama.cpp", State.STOPPED) == "stop"
    assert store.state_of("llama.cpp") is State.STOPPED
    with store.transaction() as tx:
        assert tx.set_state("llama.cpp", State.AVAILABLE) == "uninstall"
        tx.record("llama.cpp", "uninstall", from_version="0.1", uid=1000)
    assert store.get("llama.cpp") is None
    for table in ("modules", "payload_files", "settings", "ports", "unit_files"):
        assert _count(tmp_path, table) == 0, table
    assert [h.operation for h in store.history("llama.cpp")] == ["uninstall", "install"]


def test_an_exception_in_a_transaction_leaves_nothing(store: StateStore, tmp_path: Path) -> None:
    def failing() -> None:
        with store.transaction() as tx:
            tx.begin_install("llama.cpp", "0.1", "native")
            tx.set_payload("llama.cpp", Path("/m"), {"bin/x": SHA_A})
            tx.set_unit_files("llama.cpp", {"/etc/systemd/system/lais-x.service": SHA_A})
            tx.set_setting("llama.cpp", "threads", 4)
            tx.allocate_ports("llama.cpp", [PortRequest("http", 8080)])
            tx.record("llama.cpp", "install")
            tx.set_state("llama.cpp", State.INSTALLED)
            raise OSError("the unit write failed")

    with pytest.raises(OSError, match="unit write"):
        failing()
    assert store.get("llama.cpp") is None
    assert store.history() == ()
    assert store.ports_in_use() == {}
    for table in ("modules", "payload_files", "settings", "ports", "unit_files", "history"):
        assert _count(tmp_path, table) == 0, table


def test_a_rolled_back_change_keeps_the_state_before_it(store: StateStore) -> None:
    _installed(store, state=State.RUNNING)

    def failing() -> None:
        with store.transaction() as tx:
            tx.set_state("llama.cpp", State.STOPPED)
            tx.set_setting("llama.cpp", "threads", 2)
            raise RuntimeError("systemd said no")

    with pytest.raises(RuntimeError):
        failing()
    module = store.get("llama.cpp")
    assert module is not None
    assert module.state is State.RUNNING
    assert dict(module.settings) == {}


def test_an_illegal_transition_writes_nothing(store: StateStore) -> None:
    _installed(store, state=State.RUNNING)
    before = store.get("llama.cpp")
    with store.transaction() as tx:
        with pytest.raises(IllegalTransition) as caught:
            tx.set_state("llama.cpp", State.AVAILABLE)  # uninstall while running
        assert caught.value.hint == "stop it first: `laisctl stop llama.cpp`"
        with pytest.raises(IllegalTransition):
            tx.set_state("llama.cpp", State.INSTALLED)
        with pytest.raises(IllegalTransition):
            tx.begin_install("llama.cpp", "0.2", "venv")
    assert store.get("llama.cpp") == before


def test_a_module_that_is_not_installed_cannot_move(store: StateStore) -> None:
    with store.transaction() as tx:
        for to in (State.INSTALLED, State.RUNNING, State.STOPPED, State.FAILED, State.AVAILABLE):
            with pytest.raises(IllegalTransition) as caught:
                tx.set_state("ollama", to)
            assert caught.value.from_state == "available"
    assert store.get("ollama") is None


def test_failed_repaired_and_uninstalled(store: StateStore) -> None:
    _installed(store, state=State.RUNNING)
    with store.transaction() as tx:
        assert tx.set_state("llama.cpp", State.FAILED) == "fail"
    with store.transaction() as tx:
        with pytest.raises(IllegalTransition):
            tx.set_state("llama.cpp", State.RUNNING)
        assert tx.set_state("llama.cpp", State.INSTALLED) == "repair"
        assert tx.set_state("llama.cpp", State.RUNNING) == "start"
    with store.transaction() as tx:
        tx.set_state("llama.cpp", State.FAILED)
        assert tx.set_state("llama.cpp", State.AVAILABLE) == "uninstall"
    assert store.state_of("llama.cpp") is State.AVAILABLE


def test_an_undone_install_removes_the_row_and_keeps_its_failure(store: StateStore) -> None:
    _installed(store, state=State.RESOLVED)
    with store.transaction() as tx:
        assert tx.set_state("llama.cpp", State.AVAILABLE) == "undo-install"
        tx.record(
            "llama.cpp", "install", result="failed", to_version="0.1", detail="download failed"
        )
    assert store.get("llama.cpp") is None
    (entry,) = store.history()
    assert (entry.result, entry.detail, entry.to_version) == ("failed", "download failed", "0.1")


def test_updated_at_follows_changes(store: StateStore) -> None:
    _installed(store)
    first = store.get("llama.cpp")
    with store.transaction() as tx:
        tx.set_state("llama.cpp", State.RUNNING)
    second = store.get("llama.cpp")
    assert first is not None
    assert second is not None
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at


def test_hashes_round_trip(store: StateStore) -> None:
    _installed(store)
    payload = {"bin/llama-server": SHA_A, "lib/libggml.so": SHA_B, "README": SHA_A}
    units = {
        "/etc/systemd/system/lais-llama.cpp.service": SHA_B,
        "/etc/systemd/system/lais-llama.cpp.service.d/10-lais.conf": SHA_A,
    }
    with store.transaction() as tx:
        tx.set_payload("llama.cpp", Path("/var/lib/localaistack/modules/llama.cpp/0.1"), payload)
        tx.set_unit_files("llama.cpp", units)
    module = store.get("llama.cpp")
    assert module is not None
    assert module.payload_path == Path("/var/lib/localaistack/modules/llama.cpp/0.1")
    assert module.payload_files == tuple(FileHash(p, d) for p, d in sorted(payload.items()))
    assert module.unit_files == tuple(FileHash(p, d) for p, d in sorted(units.items()))
    with store.transaction() as tx:  # replaced, not merged
        tx.set_payload("llama.cpp", Path("/m/0.2"), {"bin/llama-server": SHA_B})
        tx.set_unit_files("llama.cpp", {})
    module = store.get("llama.cpp")
    assert module is not None
    assert module.payload_files == (FileHash("bin/llama-server", SHA_B),)
    assert module.unit_files == ()


_rel_path = st.lists(
    st.text(alphabet="abcxyz0123-_.", min_size=1, max_size=8).filter(
        lambda p: p not in {".", ".."}
    ),
    min_size=1,
    max_size=4,
).map("/".join)
_sha = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=st.dictionaries(_rel_path, _sha, max_size=8))
def test_any_payload_hashes_round_trip(store: StateStore, files: dict[str, str]) -> None:
    if store.get("m") is None:
        _installed(store, "m")
    with store.transaction() as tx:
        tx.set_payload("m", Path("/p"), files)
    module = store.get("m")
    assert module is not None
    assert {f.path: f.sha256 for f in module.payload_files} == files


@pytest.mark.parametrize(
    ("path", "digest"),
    [
        ("bin/x", "A" * 64),
        ("bin/x", "a" * 63),
        ("bin/x", "g" * 64),
        ("/abs/x", SHA_A),
        ("../x", SHA_A),
        ("bin/../x", SHA_A),
        ("bin//x", SHA_A),
        ("./x", SHA_A),
    ],
)
def test_bad_payload_hashes_are_refused(store: StateStore, path: str, digest: str) -> None:
    _installed(store)
    with store.transaction() as tx, pytest.raises(InvalidArgs):
        tx.set_payload("llama.cpp", Path("/m"), {path: digest})
    module = store.get("llama.cpp")
    assert module is not None
    assert module.payload_files == ()


def test_unit_files_are_absolute_and_belong_to_one_module(store: StateStore) -> None:
    _installed(store, "a")
    _installed(store, "b")
    with store.transaction() as tx:
        with pytest.raises(InvalidArgs, match="not an absolute"):
            tx.set_unit_files("a", {"lais-a.service": SHA_A})
        tx.set_unit_files("a", {"/etc/systemd/system/lais-a.service": SHA_A})
        with pytest.raises(InvalidArgs, match="belongs to module a"):
            tx.set_unit_files("b", {"/etc/systemd/system/lais-a.service": SHA_A})


def test_settings_keep_their_json_types(store: StateStore) -> None:
    _installed(store)
    values = {
        "model": "/var/lib/localaistack/models/gemma.gguf",
        "ctx_size": 4096,
        "temperature": 0.7,
        "flash_attn": True,
        "api_key": None,
        "stop": ["</s>", "\n"],
        "extra": {"a": [1, 2.5, False]},
    }
    with store.transaction() as tx:
        for key, value in values.items():
            tx.set_setting("llama.cpp", key, value)
        tx.set_setting("llama.cpp", "ctx_size", 8192)  # replaces
    module = store.get("llama.cpp")
    assert module is not None
    assert dict(module.settings) == {**values, "ctx_size": 8192}
    assert type(module.settings["ctx_size"]) is int
    assert type(module.settings["flash_attn"]) is bool
    with store.transaction() as tx:
        assert tx.unset_setting("llama.cpp", "ctx_size")
        assert not tx.unset_setting("llama.cpp", "ctx_size")
    module = store.get("llama.cpp")
    assert module is not None
    assert "ctx_size" not in module.settings


@pytest.mark.parametrize("value", [float("nan"), {1, 2}, b"bytes"])
def test_a_setting_must_be_json(store: StateStore, value: object) -> None:
    _installed(store)
    with store.transaction() as tx, pytest.raises(InvalidArgs, match="not a JSON value"):
        tx.set_setting("llama.cpp", "x", value)  # type: ignore[arg-type]
    with store.transaction() as tx, pytest.raises(InvalidArgs, match="needs a name"):
        tx.set_setting("llama.cpp", "", 1)


def test_changes_to_a_module_that_is_not_installed_are_not_found(store: StateStore) -> None:
    with store.transaction() as tx:
        for change in (
            lambda: tx.set_setting("ollama", "x", 1),
            lambda: tx.unset_setting("ollama", "x"),
            lambda: tx.set_payload("ollama", Path("/m"), {}),
            lambda: tx.set_unit_files("ollama", {}),
            lambda: tx.allocate_ports("ollama", []),
        ):
            with pytest.raises(NotFound, match="module ollama is not installed") as caught:
                change()
            assert caught.value.hint == "`laisctl install ollama` installs it"


def test_ports_default_else_free_and_exact_or_error(store: StateStore) -> None:
    _installed(store, "a")
    _installed(store, "b")
    with store.transaction() as tx:
        assert tx.allocate_ports("a", [PortRequest("http", 8080)]) == (
            PortBinding("http", 8080, "tcp"),
        )
        # b's default is a's: b gets the first free port of the range
        assert tx.allocate_ports(
            "b", [PortRequest("http", 8080), PortRequest("metrics", 9090, "udp")]
        ) == (PortBinding("http", 30000, "tcp"), PortBinding("metrics", 9090, "udp"))
        with pytest.raises(PortTaken, match=r"tcp port 8080 for b \(http\) is in use by a"):
            tx.allocate_ports("b", [PortRequest("http", 8080, exact=True)])
        # its own ports are free for it; host listeners are not
        assert tx.allocate_ports(
            "a",
            [PortRequest("http", 8080, exact=True), PortRequest("grpc", 50051)],
            host_taken=[(50051, "tcp")],
        ) == (PortBinding("http", 8080, "tcp"), PortBinding("grpc", 30001, "tcp"))
    assert store.ports_in_use() == {
        (8080, "tcp"): "a",
        (30001, "tcp"): "a",
        (30000, "tcp"): "b",
        (9090, "udp"): "b",
    }
    module = store.get("a")
    assert module is not None
    assert module.ports == (PortBinding("grpc", 30001, "tcp"), PortBinding("http", 8080, "tcp"))


def test_the_database_refuses_a_shared_port(store: StateStore, tmp_path: Path) -> None:
    _installed(store, "a")
    _installed(store, "b")
    with store.transaction() as tx:
        tx.allocate_ports("a", [PortRequest("http", 8080)])
    conn = sqlite3.connect(tmp_path / db.DB_NAME)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("INSERT INTO ports VALUES ('b', 'web', 8080, 'udp')")  # other protocol
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute("INSERT INTO ports VALUES ('b', 'http', 8080, 'tcp')")
    finally:
        conn.rollback()
        conn.close()


_request = st.builds(
    PortRequest,
    name=st.sampled_from(["http", "grpc", "metrics"]),
    default=st.one_of(st.none(), st.sampled_from([8080, 8081, 30000, 30001])),
    protocol=st.sampled_from(["tcp", "udp"]),
)
_module_ports = st.lists(_request, max_size=3, unique_by=lambda r: r.name)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=st.lists(st.tuples(st.sampled_from("abcd"), _module_ports), max_size=10))
def test_two_modules_never_share_a_port(
    store: StateStore, plan: list[tuple[str, list[PortRequest]]]
) -> None:
    with store.transaction() as tx:
        for name in "abcd":
            if tx.get(name) is None:
                tx.begin_install(name, "1", "native")
            tx.allocate_ports(name, [])
    for name, requests in plan:
        with store.transaction() as tx:
            others = {k: m for k, m in tx.ports_in_use().items() if m != name}
            chosen = tx.allocate_ports(name, requests)
        for request, binding in zip(requests, chosen, strict=True):
            key = (request.default, request.protocol)
            if (
                request.default is not None
                and key not in others
                and key not in {(b.port, b.protocol) for b in chosen if b is not binding}
            ):
                assert binding.port == request.default
    held = [(b.port, b.protocol) for m in store.modules() for b in m.ports]
    assert len(held) == len(set(held))


def test_history_is_newest_first_and_filtered(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.record("a", "install", to_version="1", uid=1000)
        tx.record("b", "install", to_version="2", uid=0, result="cancelled")
        tx.record("a", "stop")
    assert [(h.module, h.operation) for h in store.history()] == [
        ("a", "stop"),
        ("b", "install"),
        ("a", "install"),
    ]
    assert [h.operation for h in store.history("a")] == ["stop", "install"]
    (last,) = store.history(limit=1)
    assert (last.uid, last.result, last.at) == (None, "ok", "2025-01-02T03:04:08+00:00")
    oldest = store.history("a")[-1]
    assert (oldest.uid, oldest.to_version, oldest.from_version) == (1000, "1", None)
    with store.transaction() as tx, pytest.raises(InvalidArgs):
        tx.record("a", "install", result="maybe")  # type: ignore[arg-type]


def test_a_transaction_handle_ends_with_its_block(store: StateStore) -> None:
    with store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="has ended"):
        tx.get("x")
    with store.transaction() as tx, pytest.raises(RuntimeError, match="do not nest"):
        store.get("x")


def test_two_stores_on_one_database_take_turns(tmp_path: Path) -> None:
    first = StateStore.open(tmp_path)
    second = StateStore.open(tmp_path, busy_timeout_s=5)
    holding = threading.Event()

    def writer() -> None:
        with first.transaction() as tx:
            tx.begin_install("a", "1", "native")
            holding.set()
            time.sleep(0.3)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(5)
        assert second.get("a") is None  # readers see the last commit and never wait
        with second.transaction() as tx:
            assert tx.state_of("a") is State.RESOLVED  # waited for the writer's commit
            tx.set_state("a", State.INSTALLED)
        assert first.state_of("a") is State.INSTALLED
    finally:
        thread.join()
        first.close()
        second.close()


def test_a_store_busy_past_its_timeout_says_so(tmp_path: Path) -> None:
    with (
        StateStore.open(tmp_path) as first,
        StateStore.open(tmp_path, busy_timeout_s=0.1) as second,
    ):

        def write() -> None:
            with second.transaction() as tx:
                tx.record("a", "x")

        with first.transaction(), pytest.raises(db.StateBusy):
            write()
        write()  # the lock is free again, and the failed attempt left nothing open
    with StateStore.open(tmp_path) as again:
        assert len(again.history()) == 1


def test_listeners_hear_of_committed_changes_only(
    store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[tuple[frozenset[str], State]] = []
    store.subscribe(lambda names: heard.append((names, store.state_of("a"))))
    _installed(store, "a")
    _installed(store, "b", state=State.RESOLVED)
    assert heard == [
        (frozenset({"a"}), State.INSTALLED),  # the listener may read the store
        (frozenset({"b"}), State.INSTALLED),
    ]
    heard.clear()

    def failing() -> None:
        with store.transaction() as tx:
            tx.set_state("a", State.RUNNING)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing()
    with store.transaction() as tx:
        tx.record("a", "install")  # history only: no module changed
    assert heard == []
    with store.transaction() as tx:
        tx.set_setting("a", "k", 1)
        tx.allocate_ports("b", [])
        tx.set_state("b", State.AVAILABLE)
    assert heard == [(frozenset({"a", "b"}), State.INSTALLED)]

    def broken(names: frozenset[str]) -> None:
        raise ValueError(names)

    store.subscribe(broken)
    with store.transaction() as tx:  # committed: a listener's failure is not the caller's
        tx.set_state("a", State.RUNNING)
    assert store.state_of("a") is State.RUNNING
    assert "state listener" in caplog.text

"""Overrides: applied after the rules, recorded with who/when/why, reversible, atomic."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from lais_agent.control.overrides import OverrideStore
from lais_agent.errors import InvalidArgs, NotFound
from lais_agent.policy.engine import evaluate
from lais_agent.policy.facts import facts_from
from lais_agent.policy.overrides import apply
from tests.unit.hardware.test_detect_fixtures import probe
from tests.unit.policy.test_engine import SHIPPED


def _cap(name: str = "rtx4090"):  # type: ignore[no-untyped-def]
    return evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(probe(name)))


def test_override_relaxes_and_is_explained(tmp_path: Path) -> None:
    store = OverrideStore(tmp_path / "o.json")
    ovr = store.add(
        uid=1000,
        user="alice",
        reason="48 GB card",
        limits={"max_model_params_b": 40},
        allow=("sglang",),
        deny=(),
    )
    cap = apply(_cap(), store.all())
    assert cap.limits.max_model_params_b == 40
    assert cap.runtime_allowed("sglang")
    assert any(
        r.startswith(f"override {ovr.id} by alice") and "48 GB card" in r for r in cap.reasons
    )


def test_deny_override_beats_rules_allow(tmp_path: Path) -> None:
    store = OverrideStore(tmp_path / "o.json")
    store.add(uid=0, user="root", reason="site rule", limits={}, allow=(), deny=("vllm",))
    cap = apply(_cap(), store.all())
    assert not cap.runtime_allowed("vllm")
    assert "vllm" in cap.limits.denied_runtimes


def test_revert_restores_and_history_keeps_both(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    store = OverrideStore(path)
    first = store.add(
        uid=0, user="root", reason="try", limits={"max_concurrent_models": 4}, allow=(), deny=()
    )
    store.revert(first.id, user="bob", reason="done")
    assert apply(_cap(), store.all()).limits.max_concurrent_models == 2
    history = OverrideStore(path).all()  # a new store reads the same record
    assert [(o.id, o.active, o.reverted_by) for o in history] == [(first.id, False, "bob")]
    second = store.add(
        uid=0, user="root", reason="again", limits={"max_concurrent_models": 3}, allow=(), deny=()
    )
    assert second.id == "ovr-2"  # ids are never reused
    with pytest.raises(InvalidArgs, match="already reverted"):
        store.revert(first.id, user="bob", reason="twice")
    with pytest.raises(NotFound):
        store.revert("ovr-99", user="bob", reason="x")


@pytest.mark.parametrize(
    ("limits", "allow", "deny", "reason", "problem"),
    [
        ({}, (), (), "why", "nothing to override"),
        ({"max_model_params_b": 8}, (), (), " ", "a reason is required"),
        ({"allowed_runtimes": 1}, (), (), "why", "cannot be overridden"),
        ({"ram_utilization_max": 1.5}, (), (), "why", "out of range"),
        ({}, ("vllm",), ("vllm",), "why", "both allowed and denied"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_written(
    tmp_path: Path,
    limits: dict[str, float],
    allow: tuple[str, ...],
    deny: tuple[str, ...],
    reason: str,
    problem: str,
) -> None:
    path = tmp_path / "o.json"
    with pytest.raises(InvalidArgs, match=problem):
        OverrideStore(path).add(
            uid=0, user="root", reason=reason, limits=limits, allow=allow, deny=deny
        )
    assert not path.exists()


def test_record_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    store = OverrideStore(path)
    store.add(uid=0, user="root", reason="a", limits={"max_model_params_b": 9}, allow=(), deny=())
    assert json.loads(path.read_text())["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["o.json"]  # no temporary file left


def test_unreadable_record_is_an_error_not_an_empty_history(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text("{not json")
    with pytest.raises(Exception, match="cannot read the override record"):
        OverrideStore(path).all()


def _add(store: OverrideStore, reason: str) -> None:
    store.add(
        uid=0, user="root", reason=reason, limits={"max_model_params_b": 9}, allow=(), deny=()
    )


def test_a_reader_of_the_old_record_keeps_the_whole_old_record(tmp_path: Path) -> None:
    """A new record is a new file renamed over the old one, never the old one rewritten."""
    path = tmp_path / "o.json"
    store = OverrideStore(path)
    _add(store, "first")
    with path.open(encoding="utf-8") as old:
        before = os.fstat(old.fileno()).st_ino
        _add(store, "second")
        assert [o["reason"] for o in json.loads(old.read())["overrides"]] == ["first"]
    assert os.stat(path).st_ino != before
    assert [o.reason for o in store.all()] == ["first", "second"]


def test_a_crash_before_the_rename_leaves_the_old_record_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.json"
    store = OverrideStore(path)
    _add(store, "first")
    old = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        _add(store, "second")
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["o.json"]
    assert [o.reason for o in store.all()] == ["first"]


def test_the_new_file_is_complete_and_synced_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.json"
    events: list[tuple[str, str, int]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            events.append(("fsync", "dir", 0))
        else:  # the file's name and how much of it is written when it is synced
            events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name, st.st_size))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("replace", Path(src).name, os.stat(src).st_size))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    _add(OverrideStore(path), "first")
    size = path.stat().st_size
    tmp = events[0][1]
    assert tmp.startswith(".overrides-")
    assert events == [("fsync", tmp, size), ("replace", tmp, size), ("fsync", "dir", 0)]

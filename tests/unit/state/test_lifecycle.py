"""The lifecycle state machine: every pair of states is either an edge or an error."""

from __future__ import annotations

import itertools

import pytest

from lais_agent.errors import IllegalTransition
from lais_agent.state import lifecycle
from lais_agent.state.lifecycle import State

AV, RE, IN, RU, ST, FA = (
    State.AVAILABLE,
    State.RESOLVED,
    State.INSTALLED,
    State.RUNNING,
    State.STOPPED,
    State.FAILED,
)

# Written out again on purpose: a change to the table in the code must be a change here.
EXPECTED = {
    (AV, RE): "install",
    (RE, IN): "install",
    (RE, AV): "undo-install",
    (RE, FA): "fail",
    (IN, RU): "start",
    (IN, AV): "uninstall",
    (IN, FA): "fail",
    (RU, ST): "stop",
    (RU, FA): "fail",
    (ST, RU): "start",
    (ST, AV): "uninstall",
    (ST, FA): "fail",
    (FA, IN): "repair",
    (FA, AV): "uninstall",
}

PAIRS = list(itertools.product(State, repeat=2))


def test_the_states_are_the_seeds() -> None:
    assert [s.value for s in State] == [
        "available",
        "resolved",
        "installed",
        "running",
        "stopped",
        "failed",
    ]
    assert str(State.RUNNING) == "running"


@pytest.mark.parametrize(("frm", "to"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_every_pair_is_legal_or_raises(frm: State, to: State) -> None:
    if (frm, to) in EXPECTED:
        assert lifecycle.is_legal(frm, to)
        assert lifecycle.check("llama.cpp", frm, to) == EXPECTED[(frm, to)]
        assert lifecycle.operation(frm, to) == EXPECTED[(frm, to)]
        return
    assert not lifecycle.is_legal(frm, to)
    with pytest.raises(IllegalTransition) as caught:
        lifecycle.check("llama.cpp", frm, to)
    error = caught.value
    assert str(error) == f"module llama.cpp cannot go from {frm} to {to}"
    assert (error.module, error.from_state, error.to_state) == ("llama.cpp", frm.value, to.value)
    assert error.hint
    assert error.code == "illegal-transition"
    with pytest.raises(KeyError):
        lifecycle.operation(frm, to)


def test_the_table_has_no_other_edges() -> None:
    assert dict(lifecycle.TRANSITIONS) == EXPECTED


def test_next_states() -> None:
    assert lifecycle.next_states(AV) == (RE,)
    assert lifecycle.next_states(RU) == (ST, FA)
    assert lifecycle.next_states(FA) == (IN, AV)


def _reachable(start: State, edges: set[tuple[State, State]]) -> set[State]:
    seen, todo = {start}, [start]
    while todo:
        here = todo.pop()
        for frm, to in edges:
            if frm is here and to not in seen:
                seen.add(to)
                todo.append(to)
    return seen


def test_every_state_is_reachable_and_every_module_can_be_removed() -> None:
    edges = set(lifecycle.TRANSITIONS)
    assert _reachable(AV, edges) == set(State)
    for state in State:
        assert AV in _reachable(state, edges), state
        if state is not AV:
            assert FA in _reachable(state, edges), state


def test_any_installed_state_can_fail_but_not_available() -> None:
    for state in (RE, IN, RU, ST):
        assert lifecycle.is_legal(state, FA)
    assert not lifecycle.is_legal(AV, FA)
    assert not lifecycle.is_legal(FA, FA)


@pytest.mark.parametrize(
    ("frm", "to", "hint"),
    [
        (RU, RU, "llama.cpp is running already; nothing to do"),
        (AV, RU, "install it first: `laisctl install llama.cpp`"),
        (RE, RU, "install it first: `laisctl install llama.cpp`"),
        (FA, RU, "repair it first; `laisctl status llama.cpp` says what failed"),
        (IN, ST, "it is not running; `laisctl status llama.cpp` shows its state"),
        (RU, AV, "stop it first: `laisctl stop llama.cpp`"),
        (ST, RE, "it is installed already; `laisctl uninstall llama.cpp` first to install again"),
        (RU, IN, "it is installed already; `laisctl uninstall llama.cpp` first to install again"),
        (AV, IN, "from available it may become: resolved"),
        (FA, ST, "it is not running; `laisctl status llama.cpp` shows its state"),
        (AV, FA, "from available it may become: resolved"),
    ],
)
def test_the_hint_says_what_to_do(frm: State, to: State, hint: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        lifecycle.check("llama.cpp", frm, to)
    assert caught.value.hint == hint

"""The module lifecycle state machine, in one place. Pure: no I/O.

The states of the seed (features 2.3), and what each means on the host:

=========== ===========================================================================
available   in the catalog, nothing of it on this host. There is no row in the state
            database: a module without one *is* available.
resolved    an install plan was accepted and its steps are under way (download,
            verify, unpack, build, unit write). A row exists, so a crash mid-install
            leaves a record that reconciliation can find and undo.
installed   payload, units and settings are in place; the service has not been started
            (``install --no-start``) or a repair has just finished.
running     its unit was started (and, where the manifest has one, the first health
            check passed).
stopped     its unit was stopped; everything else is still installed.
failed      something on the host is broken and could not be undone by itself: the unit
            failed, a health check failed after start, or an install's undo did not
            finish. It needs a repair (back to installed) or an uninstall.
=========== ===========================================================================

Every edge, and why (``TRANSITIONS`` below is the table the code uses):

- available -> resolved: install, plan accepted.
- resolved -> installed: install, every step done.
- resolved -> available: install undone (a step failed and was rolled back, or the job was
  cancelled); the host is as it was, so the row goes.
- resolved -> failed: install failed and its undo did not finish; something is left.
- installed -> running, stopped -> running: start.
- running -> stopped: stop.
- installed -> available, stopped -> available: uninstall. A running module is stopped
  first (running -> stopped -> available), so uninstall never removes a unit that runs.
- failed -> installed: repair (reinstall of the same version, units rewritten,
  ``reset-failed``). Starting a repaired module is then a separate edge.
- failed -> available: uninstall of a broken module; it must always be possible.
- resolved, installed, running, stopped -> failed: "any -> failed" of the seed, except
  from available: nothing of an available module is on the host to fail (a plan that
  cannot run is an error for its caller, not a state), and from failed itself.

Every other pair is illegal, a state to itself included (starting a running module is the
caller's no-op to decide, not a transition). Upgrades and rollback (the upgrade issue) add
their edges here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from lais_agent.errors import IllegalTransition


class State(str, enum.Enum):
    AVAILABLE = "available"
    RESOLVED = "resolved"
    INSTALLED = "installed"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


A = State  # the table below reads better short

# (from, to) -> the operation that takes a module along that edge (recorded in history).
TRANSITIONS: Mapping[tuple[State, State], str] = {
    (A.AVAILABLE, A.RESOLVED): "install",
    (A.RESOLVED, A.INSTALLED): "install",
    (A.RESOLVED, A.AVAILABLE): "undo-install",
    (A.RESOLVED, A.FAILED): "fail",
    (A.INSTALLED, A.RUNNING): "start",
    (A.INSTALLED, A.AVAILABLE): "uninstall",
    (A.INSTALLED, A.FAILED): "fail",
    (A.RUNNING, A.STOPPED): "stop",
    (A.RUNNING, A.FAILED): "fail",
    (A.STOPPED, A.RUNNING): "start",
    (A.STOPPED, A.AVAILABLE): "uninstall",
    (A.STOPPED, A.FAILED): "fail",
    (A.FAILED, A.INSTALLED): "repair",
    (A.FAILED, A.AVAILABLE): "uninstall",
}


def is_legal(from_state: State, to_state: State) -> bool:
    return (from_state, to_state) in TRANSITIONS


def next_states(from_state: State) -> tuple[State, ...]:
    """The states a module in ``from_state`` may move to, in declaration order."""
    return tuple(to for (frm, to) in TRANSITIONS if frm is from_state)


def operation(from_state: State, to_state: State) -> str:
    """The operation of a legal edge; raises ``KeyError`` for an illegal one."""
    return TRANSITIONS[(from_state, to_state)]


def _hint(module: str, from_state: State, to_state: State) -> str:
    if from_state is to_state:
        return f"{module} is {from_state} already; nothing to do"
    if to_state is A.RUNNING and from_state in (A.AVAILABLE, A.RESOLVED):
        return f"install it first: `laisctl install {module}`"
    if to_state is A.RUNNING and from_state is A.FAILED:
        return f"repair it first; `laisctl status {module}` says what failed"
    if to_state is A.STOPPED:
        return f"it is not running; `laisctl status {module}` shows its state"
    if to_state is A.AVAILABLE and from_state is A.RUNNING:
        return f"stop it first: `laisctl stop {module}`"
    if to_state in (A.RESOLVED, A.INSTALLED) and from_state in (A.RUNNING, A.STOPPED):
        return f"it is installed already; `laisctl uninstall {module}` first to install again"
    allowed = ", ".join(str(s) for s in next_states(from_state)) or "nothing"
    return f"from {from_state} it may become: {allowed}"


def check(module: str, from_state: State, to_state: State) -> str:
    """The operation of the edge ``from_state -> to_state``; ``IllegalTransition``, naming
    the module, both states and what to do instead, when there is no such edge."""
    op = TRANSITIONS.get((from_state, to_state))
    if op is None:
        raise IllegalTransition(
            f"module {module} cannot go from {from_state} to {to_state}",
            hint=_hint(module, from_state, to_state),
            module=module,
            from_state=from_state.value,
            to_state=to_state.value,
        )
    return op

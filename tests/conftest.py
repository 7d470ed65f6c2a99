"""Suite-wide checks: no test may leave child processes or asyncio tasks behind."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import psutil
import pytest

from tests.owned import OWNED

T = TypeVar("T")


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _descends_from_owned(pid: int) -> bool:
    """A process under one the tests own on purpose (a booted machine's services, a bus
    daemon's activations) is theirs, even when it started a moment ago."""
    try:
        return any(p.pid in OWNED for p in [psutil.Process(pid), *psutil.Process(pid).parents()])
    except psutil.NoSuchProcess:
        return True  # gone already: nothing left behind


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(autouse=True)
def _no_leaked_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    before = _children()
    yield
    leaked = {pid for pid in _children() - before if not _descends_from_owned(pid) and _alive(pid)}
    if leaked:
        names = [psutil.Process(pid).cmdline() for pid in leaked]
        for pid in leaked:
            psutil.Process(pid).kill()
        pytest.fail(f"{request.node.nodeid} left processes behind: {names}")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run that fails when the coroutine leaves tasks running."""
    leftovers: list[asyncio.Task[Any]] = []

    async def wrapper() -> T:
        result = await coro
        current = asyncio.current_task()
        leftovers.extend(t for t in asyncio.all_tasks() if t is not current and not t.done())
        return result

    result = asyncio.run(wrapper())
    if leftovers:
        pytest.fail(f"asyncio tasks left behind: {leftovers}")
    return result

"""Fixtures for bus tests: one private bus and polkit mock per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bus.harness import Agent, PolkitMock, PrivateBus


@pytest.fixture(scope="module")
def bus() -> Iterator[PrivateBus]:
    private = PrivateBus().start()
    yield private
    private.stop()


@pytest.fixture(scope="module")
def polkit(bus: PrivateBus) -> Iterator[PolkitMock]:
    mock = PolkitMock(bus).start()
    yield mock
    mock.stop()


@pytest.fixture(autouse=True)
def _polkit_denies_by_default(request: pytest.FixtureRequest) -> None:
    if "polkit" in request.fixturenames:
        mock: PolkitMock = request.getfixturevalue("polkit")
        if mock.proc is not None and mock.proc.poll() is None:
            mock.set_allowed([])
            mock.set_delay(0)


@pytest.fixture(scope="module")
def agent(bus: PrivateBus, polkit: PolkitMock) -> Iterator[Agent]:
    running = Agent(bus).start()
    yield running
    assert running.stop() == 0, running.logs()


@pytest.fixture(scope="session", autouse=True)
def _host_state_untouched() -> Iterator[None]:
    """Agents under test keep their state in their bus directory, never on the host."""
    from pathlib import Path

    host_state = Path("/var/lib/localaistack")
    existed = host_state.exists()
    yield
    if not existed and host_state.exists():
        pytest.fail(f"a bus test wrote the host's {host_state}; pass --state-dir to the agent")

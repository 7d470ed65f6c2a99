"""Without polkitd on the bus, only root may call, and the agent says why."""

from __future__ import annotations

import pytest

from lais_agent.errors import EXIT_NOT_AUTHORIZED
from tests.bus.harness import NOBODY, Agent, PolkitMock, PrivateBus, laisctl

pytestmark = pytest.mark.bus


def test_without_polkit_only_root_passes(bus: PrivateBus, polkit: PolkitMock) -> None:
    polkit.stop()
    agent = Agent(bus).start()
    try:
        denied = laisctl(bus, "status", uid=NOBODY)
        assert denied.returncode == EXIT_NOT_AUTHORIZED
        assert "polkit is not running" in denied.stderr
        assert laisctl(bus, "status").returncode == 0
        assert "polkitd is not on the bus" in agent.logs()
    finally:
        assert agent.stop() == 0
        polkit.start()

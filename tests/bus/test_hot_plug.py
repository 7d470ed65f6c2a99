"""The daemon starts its udev watcher on a real machine, and not when told not to.

The agent runs as the unit runs it, probing this machine; whether it started the
watcher is read from its log after a clean stop (by then it has passed the point
where the watcher starts): "watching udev" when netlink opened, "hot-plug
monitoring is off" when it could not (a container without netlink) — either
way it tried.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.bus.harness import REPO, Agent, PrivateBus, laisctl

pytestmark = pytest.mark.bus

STARTED = ("watching udev (drm, pci) for hardware changes", "hardware hot-plug monitoring is off")


@dataclass
class HostAgent(Agent):
    """The agent without the harness's --no-udev; ``extra`` arguments appended."""

    extra: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        argv = [a for a in super().argv() if a != "--no-udev"]
        return [*argv, "--models-dir", str(self.bus.directory / "models"), *self.extra]


def _run(agent: Agent) -> str:
    agent.start()
    try:
        assert laisctl(agent.bus, "status").returncode == 0, agent.logs()
    finally:
        assert agent.stop() == 0, agent.logs()
    return agent.logs()


def test_the_agent_watches_udev_by_default(bus: PrivateBus, polkit: object) -> None:
    logs = _run(HostAgent(bus))
    assert any(line in logs for line in STARTED), logs


@pytest.mark.parametrize(
    "extra",
    [("--no-udev",), ("--hardware-root", str(REPO / "tests/fixtures/hardware/rtx4090"))],
    ids=["no-udev", "recorded-machine"],
)
def test_no_udev_and_a_recorded_machine_do_not_watch_udev(
    bus: PrivateBus, polkit: object, extra: tuple[str, ...]
) -> None:
    logs = _run(HostAgent(bus, extra=extra))
    assert not any(line in logs for line in STARTED), logs

"""GetTier through the agent: admin policies, reload, and bad files reported precisely."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lais_agent import names
from lais_agent.errors import EXIT_INVALID_CONFIG
from tests.bus.harness import REPO, Agent, PolkitMock, PrivateBus, busctl, laisctl
from tests.unit.hardware.test_detect_fixtures import FIXTURES

pytestmark = pytest.mark.bus


@pytest.fixture
def rtx_agent(bus: PrivateBus, polkit: PolkitMock) -> Iterator[Agent]:
    admin = bus.directory / "policies.d"
    admin.mkdir(exist_ok=True)
    for old in admin.iterdir():
        old.unlink()
    agent = Agent(bus, hardware_root=FIXTURES / "rtx4090").start()
    yield agent
    for old in admin.iterdir():
        old.unlink()
    assert agent.stop() == 0, agent.logs()


def test_admin_policy_applies_after_reload(bus: PrivateBus, rtx_agent: Agent) -> None:
    before = json.loads(laisctl(bus, "tier", "--json").stdout)
    assert before["tier"] == "tier2-midrange"
    text = (REPO / "policies/00-tiers.yaml").read_text()
    (bus.directory / "policies.d/00-tiers.yaml").write_text(
        text.replace("vram_per_gpu_gib: 20", "vram_per_gpu_gib: 32")
    )
    assert json.loads(laisctl(bus, "tier", "--json").stdout)["tier"] == "tier2-midrange"  # cached
    assert laisctl(bus, "reload").returncode == 0
    after = json.loads(laisctl(bus, "tier", "--json").stdout)
    assert after["tier"] == "tier1-entry"
    assert any("largest GPU 24.0 GiB < 32 GiB" in line for line in after["explanation"])


def test_bad_admin_policy_is_reported_with_file_and_line(bus: PrivateBus, rtx_agent: Agent) -> None:
    bad = bus.directory / "policies.d/50-site.yaml"
    bad.write_text(
        "apiVersion: localaistack.org/v1\nkind: CapabilityPolicy\nrules:\n"
        "  - id: site\n    limits:\n      max_modle_params_b: 30\n"
    )
    reload = laisctl(bus, "reload")
    assert reload.returncode == EXIT_INVALID_CONFIG
    assert f"{bad}:6: rules.0.limits.max_modle_params_b" in reload.stderr
    result = laisctl(bus, "tier")
    assert result.returncode == EXIT_INVALID_CONFIG
    wire = busctl(bus, "call", names.BUS_NAME, names.ROOT_PATH, names.MANAGER_IFACE, "GetTier")
    assert wire.returncode != 0
    assert "max_modle_params_b" in wire.stderr
    bad.unlink()
    assert laisctl(bus, "reload").returncode == 0
    assert laisctl(bus, "tier").returncode == 0

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


def test_overrides_need_their_action_and_record_the_caller(
    bus: PrivateBus, rtx_agent: Agent, polkit: PolkitMock
) -> None:
    from lais_agent.errors import EXIT_NOT_AUTHORIZED
    from tests.bus.harness import NOBODY

    argv = ("policy", "override", "--max-model-params-b", "40", "--reason", "test card")
    polkit.set_allowed([names.ACTION_READ])
    denied = laisctl(bus, *argv, uid=NOBODY)
    assert denied.returncode == EXIT_NOT_AUTHORIZED
    assert names.ACTION_POLICY_OVERRIDE in denied.stderr
    polkit.set_allowed([names.ACTION_READ, names.ACTION_POLICY_OVERRIDE])
    done = laisctl(bus, *argv, uid=NOBODY)
    assert done.returncode == 0, done.stderr
    override_id = done.stdout.split()[1]
    tier = json.loads(laisctl(bus, "tier", "--json").stdout)
    assert tier["limits"]["max_model_params_b"] == 40
    history = json.loads(laisctl(bus, "policy", "history", "--json").stdout)
    assert history[-1]["user"] == "nobody"
    assert history[-1]["uid"] == NOBODY
    assert history[-1]["reason"] == "test card"
    reverted = laisctl(bus, "policy", "revert", override_id, "--reason", "done")
    assert reverted.returncode == 0, reverted.stderr
    assert json.loads(laisctl(bus, "tier", "--json").stdout)["limits"]["max_model_params_b"] == 34

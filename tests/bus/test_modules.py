"""laisctl module list: the catalog judged against recorded machines."""

from __future__ import annotations

import pytest

from tests.bus.harness import Agent, PolkitMock, PrivateBus, laisctl

pytestmark = pytest.mark.bus


def test_module_list_explains_each_machine(bus: PrivateBus, polkit: PolkitMock) -> None:
    import json

    from tests.unit.hardware.test_detect_fixtures import FIXTURES

    for fixture, vllm_ok in (("laptop-cpu-only", False), ("rtx4090", True)):
        agent = Agent(bus, hardware_root=FIXTURES / fixture).start()
        try:
            modules = json.loads(laisctl(bus, "module", "list", "--json").stdout)
            assert len(modules) == 31
            vllm = next(m for m in modules if m["name"] == "vllm")
            assert vllm["installable"] is vllm_ok, vllm
            if not vllm_ok:
                assert any("needs a GPU" in r for r in vllm["reasons"])
            runtimes = laisctl(bus, "module", "list", "--installable", "--category", "runtime")
            assert runtimes.returncode == 0, runtimes.stderr
            assert ("vllm" in runtimes.stdout) is vllm_ok
        finally:
            assert agent.stop() == 0, agent.logs()

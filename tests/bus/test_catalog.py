"""laisctl catalog validate: the agent's own schema, answered over the bus."""

from __future__ import annotations

import pytest

from lais_agent.errors import EXIT_INVALID_CONFIG
from tests.bus.harness import NOBODY, REPO, Agent, PolkitMock, PrivateBus, laisctl

pytestmark = pytest.mark.bus


def test_validate_good_and_bad_manifests(bus: PrivateBus, agent: Agent, polkit: PolkitMock) -> None:
    tmp_path = bus.directory  # readable by the unprivileged caller below
    good = REPO / "catalog/llama.cpp.yaml"
    ok = laisctl(bus, "catalog", "validate", str(good))
    assert ok.returncode == 0, ok.stderr
    assert f"{good}: ok (llama.cpp 0.0.4600)" in ok.stdout
    assert "native.x86_64.sha256 is 'unknown'" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace('version: "0.0.4600"', 'version: "b4600"'))
    bad.chmod(0o644)
    polkit.set_allowed(["org.localaistack.read"])
    result = laisctl(bus, "catalog", "validate", str(good), str(bad), uid=NOBODY)
    assert result.returncode == EXIT_INVALID_CONFIG
    assert f"{bad}:12: versions.0.version" in result.stderr
    assert "ok (llama.cpp" in result.stdout  # the good one is still reported
    missing = laisctl(bus, "catalog", "validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2

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


def test_signed_admin_manifests_verify_and_tampering_is_refused(
    bus: PrivateBus, agent: Agent
) -> None:
    import shutil

    from lais_agent.catalog.signing import _cli, write_keypair

    keys = bus.directory / "keys.d"
    admin = bus.directory / "catalog.d"
    keys.mkdir(exist_ok=True)
    admin.mkdir(exist_ok=True)
    private = bus.directory / "private"
    private.mkdir()
    write_keypair(private, "lab-key")
    shutil.copy(private / "lab-key.pub", keys / "lab-key.pub")
    manifest = admin / "redis.yaml"
    manifest.write_text((REPO / "catalog/redis.yaml").read_text())
    assert _cli(["sign", "--key", str(private / "lab-key.key"), str(manifest)]) == 0
    try:
        assert laisctl(bus, "reload").returncode == 0  # new keys and manifests are read
        info = laisctl(bus, "module", "info", "redis")
        assert info.returncode == 0, info.stderr
        assert "Signed by         lab-key" in info.stdout
        checked = laisctl(bus, "catalog", "validate", str(manifest))
        assert f"{manifest}: ok (redis 7.0.15, 6.0.16, signed by lab-key)" in checked.stdout
        manifest.write_text(manifest.read_text().replace("disk_gib: 0.1", "disk_gib: 9", 1))
        assert laisctl(bus, "reload").returncode == EXIT_INVALID_CONFIG
        refused = laisctl(bus, "module", "list")
        assert refused.returncode == EXIT_INVALID_CONFIG
        assert f"{manifest}: the signature by key 'lab-key' does not verify" in refused.stderr
    finally:
        manifest.unlink()
        shutil.rmtree(keys)
        assert laisctl(bus, "reload").returncode == 0

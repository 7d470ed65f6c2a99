"""Every unit the agent would write for a shipped module on a recorded machine, against
its golden file (tests/golden/units/<module>/<machine>.service and .tunables.conf; the
NVIDIA nodes unit under _helpers/). Regenerate with LAIS_UPDATE_GOLDEN=1 after reviewing
the diff; a golden no case produces any more fails the test."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from packaging.version import Version

from lais_agent.catalog.installable import Host, judge
from lais_agent.catalog.registry import load_catalog
from lais_agent.names import MODELS_DIR
from lais_agent.policy.engine import evaluate
from lais_agent.policy.facts import facts_from
from lais_agent.units.render import (
    NVIDIA_DEVICES_UNIT,
    RenderedService,
    ServiceTarget,
    render_nvidia_devices,
    render_service,
)
from tests.unit.hardware.test_detect_fixtures import NAMES, probe
from tests.unit.policy.test_engine import SHIPPED

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "tests/golden/units"
CATALOG = load_catalog(REPO / "catalog", REPO / "none").modules
UPDATE = bool(os.environ.get("LAIS_UPDATE_GOLDEN"))


@functools.cache
def _target(module: str, machine: str) -> ServiceTarget | None:
    """The newest version installable here in native or venv mode, if any (judged at
    collection; the rendering itself happens inside the tests, where mutmut sees it)."""
    manifest = CATALOG[module]
    profile = probe(machine)
    facts = facts_from(profile)
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts)
    host = Host.from_profile(profile)
    for ver in sorted(manifest.versions, key=lambda v: Version(v.version), reverse=True):
        verdict = judge(manifest, ver, cap, facts, host)
        modes = [m for m in verdict.modes if m in ("native", "venv")]
        if verdict.installable and modes:
            service = manifest.service
            assert service is not None
            needs_model = any("{model}" in arg for arg in service.command)
            return ServiceTarget(
                version=ver.version,
                mode=modes[0],  # type: ignore[arg-type]
                ports={p.name: p.port for p in service.ports},
                model=f"{MODELS_DIR}/golden/{module}.gguf" if needs_model else None,
            )
    return None


def _case(module: str, machine: str) -> RenderedService | None:
    target = _target(module, machine)
    if target is None:
        return None
    profile = probe(machine)
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(profile))
    return render_service(CATALOG[module], target, profile, cap)


CASES = [
    (module, machine)
    for module in sorted(CATALOG)
    if CATALOG[module].service is not None
    for machine in NAMES
    if _target(module, machine) is not None
]
HELPER = GOLDEN / "_helpers" / NVIDIA_DEVICES_UNIT.removesuffix(".service")


def _files(module: str, machine: str) -> dict[Path, str]:
    rendered = _case(module, machine)
    assert rendered is not None
    return {
        GOLDEN / module / f"{machine}.service": rendered.unit.render(),
        GOLDEN / module / f"{machine}.tunables.conf": rendered.tunables.render(),
    }


def _helper_files(machine: str) -> dict[Path, str]:
    minors: set[int] = set()
    for module, mach in CASES:
        rendered = _case(module, mach) if mach == machine else None
        if rendered is not None and rendered.gpu is not None:
            minors.update(rendered.gpu.nvidia_minors)
    if not minors:
        return {}
    return {HELPER / f"{machine}.service": render_nvidia_devices(tuple(sorted(minors))).render()}


def _check(files: dict[Path, str]) -> None:
    for path, text in files.items():
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"no golden {path.relative_to(REPO)}: run with LAIS_UPDATE_GOLDEN=1"
        assert path.read_text() == text, path.relative_to(REPO)


@pytest.mark.parametrize(("module", "machine"), CASES, ids=[f"{a}/{b}" for a, b in CASES])
def test_unit_matches_golden(module: str, machine: str) -> None:
    _check(_files(module, machine))


@pytest.mark.parametrize("machine", NAMES)
def test_nvidia_devices_unit_matches_golden(machine: str) -> None:
    _check(_helper_files(machine))


def test_no_stale_golden_is_left() -> None:
    expected: set[Path] = set()
    for module, machine in CASES:
        expected |= set(_files(module, machine))
    for machine in NAMES:
        expected |= set(_helper_files(machine))
    found = {p for p in GOLDEN.rglob("*") if p.is_file()}
    stale = found - expected
    if UPDATE:
        for p in stale:
            p.unlink()
        stale = set()
    assert not stale, f"goldens no case renders (delete them): {sorted(map(str, stale))}"


def test_the_goldens_cover_venv_and_gpu_machines() -> None:
    """The cases the shipped catalog gives today; a catalog change that drops one of these
    kinds of unit shows here, not only as deleted goldens."""
    cases = set(CASES)
    assert ("vllm", "rtx4090") in cases
    assert ("vllm", "a100x2-nvlink") in cases
    assert ("comfyui", "rx7900xtx") in cases  # AMD GPU: /dev/kfd and the render node
    assert ("api-gateway", "laptop-cpu-only") in cases  # no GPU wanted: PrivateDevices
    a100 = _case("vllm", "a100x2-nvlink")
    assert a100 is not None
    assert a100.gpu is not None
    assert a100.gpu.nvidia_minors == (0, 1)
    assert set(_helper_files("a100x2-nvlink")) == {HELPER / "a100x2-nvlink.service"}

"""Software resolution: which versions run here, and why the others do not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lais_agent.catalog.installable import Host, judge
from lais_agent.catalog.registry import load_catalog
from lais_agent.hardware.profile import ContainerSupport
from lais_agent.policy.engine import evaluate
from lais_agent.policy.facts import facts_from
from tests.unit.hardware.test_detect_fixtures import probe
from tests.unit.policy.test_engine import SHIPPED

REPO = Path(__file__).resolve().parents[3]
CATALOG = load_catalog(REPO / "catalog", REPO / "none").modules


def verdict(module: str, fixture: str, *, python: str = "3.11", podman: bool = False):  # type: ignore[no-untyped-def]
    profile = probe(fixture)
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(profile))
    host = Host.from_profile(profile, python=python)
    if podman:
        podman_49 = ContainerSupport(
            podman=True, podman_version="4.9.3", quadlet=True, cdi_kinds=("nvidia.com/gpu",)
        )
        host = dataclasses.replace(host, containers=podman_49)
    manifest = CATALOG[module]
    newest = max(manifest.versions, key=lambda v: tuple(int(p) for p in v.version.split(".")[:2]))
    return judge(manifest, newest, cap, facts_from(profile), host)


def test_vllm_on_a_cpu_laptop_says_why_not() -> None:
    v = verdict("vllm", "laptop-cpu-only")
    assert not v.installable
    text = " | ".join(v.reasons)
    assert "needs capability tier rank >= 2; this machine is tier0-cpu" in text
    assert "needs a GPU; none is usable here" in text
    assert "needs CUDA >=12.1; no NVIDIA driver" in text
    assert "the capability policy does not allow the runtime vllm on tier0-cpu" in text


def test_vllm_on_the_rtx4090_runs_in_a_venv() -> None:
    v = verdict("vllm", "rtx4090")
    assert v.installable, v.reasons
    assert v.modes == ("venv",)  # the container's digest is unknown offline


def test_python_range_of_a_venv_mode_is_checked() -> None:
    v = verdict("vllm", "rtx4090", python="3.13")
    assert not v.installable
    assert any("venv: needs Python" in r and "3.13" in r for r in v.reasons)


def test_unknown_checksums_never_make_a_mode_usable() -> None:
    v = verdict("llama.cpp", "rtx4090", podman=True)
    assert not v.installable
    assert "native: the artifact's sha256 is unknown, it cannot be verified" in v.reasons
    assert "container: the image digest is unknown, it cannot be pinned" in v.reasons


def test_sglang_needs_tier3_and_is_fine_on_the_a100s_except_for_its_digest() -> None:
    assert any("rank >= 3" in r for r in verdict("sglang", "rtx4090").reasons)
    v = verdict("sglang", "a100x2-nvlink", python="3.11")
    assert not any("rank" in r for r in v.reasons)

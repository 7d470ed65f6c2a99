"""Software resolution: which versions run here, and why the others do not."""

from __future__ import annotations

import dataclasses
import functools
import shutil
from pathlib import Path

import pytest

from lais_agent.catalog.installable import Host, judge
from lais_agent.catalog.registry import load_catalog
from lais_agent.control.modules import _summaries
from lais_agent.hardware.detect import ProbeSources, detect
from lais_agent.hardware.nvml_replay import RecordedNvml
from lais_agent.hardware.profile import ContainerSupport
from lais_agent.policy.engine import evaluate
from lais_agent.policy.facts import facts_from
from tests.unit.hardware.test_detect_fixtures import FIXTURES, NAMES, probe
from tests.unit.policy.test_engine import SHIPPED

REPO = Path(__file__).resolve().parents[3]
FULL_CATALOG = load_catalog(REPO / "catalog", REPO / "none")
CATALOG = FULL_CATALOG.modules


def verdict(module: str, fixture: str, *, python: str | None = None, podman: bool = False):  # type: ignore[no-untyped-def]
    profile = probe(fixture)
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(profile))
    host = Host.from_profile(profile)  # the recorded release's python3
    if python is not None:
        host = dataclasses.replace(host, python=python)
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
    v = verdict("sglang", "a100x2-nvlink")
    assert not any("rank" in r for r in v.reasons)


# What each release's /usr/bin/python3 is (catalog/python.yaml lists the same).
RELEASE_PYTHON = {
    "debian-12": "3.11",
    "debian-13": "3.13",
    "ubuntu-22.04": "3.10",
    "ubuntu-24.04": "3.12",
}


@pytest.mark.parametrize("name", NAMES)
def test_every_recorded_machine_is_judged_with_its_own_python(name: str) -> None:
    host = Host.from_profile(probe(name))
    assert host.python is not None, f"{name} records no usr/bin/python3"
    if host.release in RELEASE_PYTHON:
        assert host.python == RELEASE_PYTHON[host.release]


def test_the_judgement_follows_the_machines_python_not_the_runners(tmp_path: Path) -> None:
    """The same recorded machine, once as recorded (Ubuntu 22.04: python3 -> python3.10)
    and once with python3 -> python3.13: vllm (Python <3.13) fits only the first, on any
    runner, because the agent reads the Python from the root it is given."""
    copy = tmp_path / "rtx4090"
    shutil.copytree(FIXTURES / "rtx4090", copy, symlinks=True)
    (copy / "usr/bin/python3").unlink()
    (copy / "usr/bin/python3").symlink_to("python3.13")

    def vllm_on(root: Path) -> tuple[bool, tuple[str, ...]]:
        profile = detect(
            ProbeSources(
                root=root,
                store_stat_path=root,
                nvml_factory=functools.partial(RecordedNvml.from_file, root / "nvml.json"),
            )
        )
        cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(profile))
        (summary,) = [s for s in _summaries(FULL_CATALOG, profile, cap) if s.name == "vllm"]
        return summary.installable, summary.reasons

    assert vllm_on(FIXTURES / "rtx4090") == (True, ())
    installable, reasons = vllm_on(copy)
    assert not installable
    assert "0.7.2: venv: needs Python >=3.10,<3.13; this system has 3.13" in reasons

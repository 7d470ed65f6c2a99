"""Execution-mode selection (feature 3.3) and install plans (PlanInstall), pure."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lais_agent.catalog.installable import Host, judge
from lais_agent.catalog.manifest import MODES, Manifest
from lais_agent.catalog.modes import ModeUnavailable, choose_mode, container_unit_kind
from lais_agent.catalog.planning import PlanOptions, plan_install
from lais_agent.catalog.registry import load_catalog
from lais_agent.catalog.resolver import ResolutionError
from lais_agent.errors import InvalidArgs
from lais_agent.hardware.profile import ContainerSupport
from lais_agent.policy.engine import Capability, evaluate
from lais_agent.policy.facts import Facts, facts_from
from lais_agent.policy.model import CapabilityPolicy
from tests.unit.hardware.test_detect_fixtures import probe
from tests.unit.policy.test_engine import SHIPPED

REPO = Path(__file__).resolve().parents[3]
CATALOG = load_catalog(REPO / "catalog", REPO / "none").modules
DIGEST = "sha256:" + "ab" * 32
SHA = "cd" * 32
PODMAN_49 = ContainerSupport(
    podman=True, podman_version="4.9.3", quadlet=True, cdi_kinds=("nvidia.com/gpu",)
)
PODMAN_43 = ContainerSupport(podman=True, podman_version="4.3.1", quadlet=False, cdi_kinds=())


def server(prefer: list[str], *, gpu: str = "none", native: bool = True) -> Manifest:
    """A module with all four modes, every checksum known."""
    modes: dict[str, Any] = {
        "apt": {"packages": {"debian-12": ["srv"]}},
        "container": {"image": "docker.io/example/srv:1.0", "digest": DIGEST, "gpu": gpu},
        "venv": {"requirements": ["srv==1.0"], "python": ">=3.10"},
        "prefer": prefer,
    }
    if native:
        modes["native"] = {
            "artifacts": {"x86_64": {"url": "https://example.org/srv.tar.gz", "sha256": SHA}},
            "entrypoint": "bin/srv",
        }
    return Manifest.model_validate(
        {
            "apiVersion": "localaistack.org/v1",
            "kind": "Module",
            "metadata": {
                "name": "srv",
                "category": "service",
                "title": "Srv",
                "description": "x",
                "homepage": "https://example.org",
                "license": "MIT",
            },
            "versions": [
                {"version": "1.0", "needs": {"hardware": {"disk_gib": 2}}, "modes": modes}
            ],
            "service": {"command": ["srv"], "ports": [{"name": "http", "port": 9000}]},
        }
    )


def machine(
    fixture: str, containers: ContainerSupport | None = None
) -> tuple[Capability, Facts, Host]:
    profile = probe(fixture)
    facts = facts_from(profile)
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts)
    host = Host.from_profile(profile)
    if containers is not None:
        host = dataclasses.replace(host, containers=containers)
    return cap, facts, host


def deny_modes(cap: Capability, *modes: str) -> Capability:
    return dataclasses.replace(cap, limits=dataclasses.replace(cap.limits, denied_modes=modes))


def test_the_manifests_preference_wins_and_the_others_are_explained() -> None:
    cap, facts, host = machine("a100x2-nvlink", PODMAN_49)  # Debian 12 x86_64
    m = server(["container", "native"])
    v = judge(m, m.versions[0], cap, facts, host)
    assert v.modes == ("container", "native", "apt", "venv")
    choice = choose_mode("srv", m.versions[0], v, host)
    assert choice.mode == "container"
    assert choice.unit_kind == "quadlet container"
    assert choice.explanation[0] == (
        "container: first in the manifest's preference (container, native) usable here"
    )
    assert "runs as a quadlet unit (podman 4.9.3 >= 4.4)" in choice.explanation
    assert "not native: usable, but container comes first" in choice.explanation


def test_old_podman_gets_a_podman_run_unit_not_a_quadlet() -> None:
    cap, facts, host = machine("a100x2-nvlink", PODMAN_43)
    m = server(["container"])
    choice = choose_mode("srv", m.versions[0], judge(m, m.versions[0], cap, facts, host), host)
    assert choice.unit_kind == "podman-run service"
    assert any("podman 4.3.1 has no quadlet" in line for line in choice.explanation)
    assert container_unit_kind(host)[0] == "podman-run service"


def test_without_podman_the_next_preference_is_taken_and_why_is_said() -> None:
    cap, facts, host = machine("a100x2-nvlink")  # the fixture's own podman 4.3.1, no CDI
    no_podman = dataclasses.replace(host, containers=ContainerSupport(False, None, False, ()))
    m = server(["container", "native"])
    v = judge(m, m.versions[0], cap, facts, no_podman)
    choice = choose_mode("srv", m.versions[0], v, no_podman)
    assert choice.mode == "native"
    assert choice.explanation[0].startswith("native: number 2 in the manifest's preference")
    assert "not container: podman is not installed (apt install podman)" in choice.explanation


def test_gpu_containers_need_a_cdi_spec() -> None:
    cap, facts, host = machine("a100x2-nvlink", PODMAN_43)  # podman, but no CDI spec
    m = server(["container"], gpu="cdi-nvidia")
    v = judge(m, m.versions[0], cap, facts, host)
    assert "container" not in v.modes
    assert "nvidia-ctk cdi generate" in v.mode_notes["container"]
    with_cdi = dataclasses.replace(host, containers=PODMAN_49)
    assert "container" in judge(m, m.versions[0], cap, facts, with_cdi).modes


def test_the_recorded_a100_machine_has_podman_4_3_and_an_nvidia_cdi_spec() -> None:
    profile = probe("a100x2-nvlink")
    assert profile.containers == ContainerSupport(
        podman=True, podman_version="4.3.1", quadlet=False, cdi_kinds=("nvidia.com/gpu",)
    )
    assert probe("rx7900xtx").containers.quadlet
    assert not probe("rtx4090").containers.podman


def test_amd_and_intel_containers_need_their_gpu() -> None:
    cap, facts, host = machine("rtx4090", PODMAN_49)
    for gpu in ("amd-kfd", "intel-dri"):
        m = server(["container"], gpu=gpu)
        assert "container" not in judge(m, m.versions[0], cap, facts, host).modes
    cap, facts, host = machine("rx7900xtx")
    m = server(["container"], gpu="amd-kfd")
    assert judge(m, m.versions[0], cap, facts, host).modes[0] == "container"


def test_a_policy_that_denies_a_mode_is_obeyed_and_named() -> None:
    cap, facts, host = machine("a100x2-nvlink", PODMAN_49)
    cap = deny_modes(cap, "container")
    m = server(["container", "native"])
    v = judge(m, m.versions[0], cap, facts, host)
    assert "container" not in v.modes
    assert v.mode_notes["container"] == (
        f"the capability policy denies the container mode on {cap.tier}"
    )


def test_policy_files_merge_denied_modes() -> None:
    policy = CapabilityPolicy.model_validate(
        {
            "apiVersion": "localaistack.org/v1",
            "kind": "CapabilityPolicy",
            "rules": [
                {"id": "no-containers", "limits": {"denied_modes": ["container"]}},
                {"id": "no-native", "limits": {"denied_modes": ["native"]}},
            ],
        }
    )
    cap = evaluate(SHIPPED.tiers, (*SHIPPED.policies, policy), facts_from(probe("rtx4090")))
    assert cap.limits.denied_modes == ("container", "native")
    assert "denied mode container: rule no-containers" in cap.reasons


def test_the_callers_choice_wins_when_usable_and_is_refused_with_why_when_not() -> None:
    cap, facts, host = machine("a100x2-nvlink", PODMAN_49)
    m = server(["container", "native"])
    v = judge(m, m.versions[0], cap, facts, host)
    assert choose_mode("srv", m.versions[0], v, host, "venv").explanation[0] == (
        "venv: you asked for it"
    )
    cap2 = deny_modes(cap, "venv")
    v2 = judge(m, m.versions[0], cap2, facts, host)
    with pytest.raises(ModeUnavailable) as info:
        choose_mode("srv", m.versions[0], v2, host, "venv")
    assert "srv 1.0 cannot run in the venv mode here: the capability policy denies" in str(
        info.value
    )


@settings(max_examples=200, deadline=None)
@given(
    prefer=st.lists(st.sampled_from(MODES), min_size=1, max_size=4, unique=True),
    denied=st.lists(st.sampled_from(MODES), unique=True),
    podman=st.booleans(),
    requested=st.none() | st.sampled_from(MODES),
)
def test_the_chosen_mode_is_always_usable_allowed_and_explained(
    prefer: list[str], denied: list[str], podman: bool, requested: str | None
) -> None:
    cap, facts, host = machine("a100x2-nvlink", PODMAN_49 if podman else PODMAN_43)
    cap = deny_modes(cap, *denied)
    m = server(prefer)
    v = judge(m, m.versions[0], cap, facts, host)
    try:
        choice = choose_mode("srv", m.versions[0], v, host, requested)
    except ModeUnavailable:
        assert (requested is not None and requested not in v.modes) or not v.modes
        return
    assert choice.mode in v.modes
    assert choice.mode not in denied
    if requested:
        assert choice.mode == requested
    else:  # the first usable mode in the manifest's order
        usable_preferred = [p for p in prefer if p in v.modes]
        assert choice.mode == (usable_preferred or list(v.modes))[0]
    others = {line.split(":")[0] for line in choice.explanation[1:] if line.startswith("not ")}
    assert others == {f"not {mode}" for mode in MODES if mode != choice.mode}


def plan(fixture: str, *names: str, mode: str | None = None, free: int | None = None) -> Any:
    cap, facts, host = machine(fixture)
    return plan_install(
        CATALOG,
        list(names),
        PlanOptions(mode=mode),
        capability=cap,
        facts=facts,
        host=host,
        disk_free_bytes=free,
    )


def test_vllm_plan_on_the_rtx4090() -> None:
    p = plan("rtx4090", "vllm", free=500 * 1024**3)  # Ubuntu 22.04: python 3.10
    assert [(s.module, s.version, s.mode) for s in p.steps] == [
        ("python", "3.10", "apt"),
        ("vllm", "0.7.2", "venv"),
    ]
    vllm = p.steps[1]
    assert vllm.requested_by == ("you",)
    assert vllm.unit_kind == "systemd service running a Python virtualenv"
    assert "not container: the image digest is unknown, it cannot be pinned" in vllm.explanation
    assert vllm.downloads[0].kind == "python-packages"
    assert vllm.downloads[0].source.startswith("vllm==0.7.2")
    assert vllm.vram_bytes == 15 * 1024**3
    assert vllm.disk_bytes == 20 * 1024**3
    assert vllm.ports == ("http 8000/tcp",)
    assert p.steps[0].downloads[0].source == "python3 python3-venv"
    assert p.disk_bytes == 20 * 1024**3
    assert p.disk_unknown == ("python",)
    assert p.tier == "tier2-midrange"


def test_vllm_plan_on_the_laptop_is_refused_with_the_reason() -> None:
    with pytest.raises(ResolutionError) as info:
        plan("laptop-cpu-only", "vllm")
    text = str(info.value)
    assert "no version of vllm can be installed here (0.7.2: " in text
    assert "can be installed here" in text
    assert "needs capability tier rank >= 2; this machine is tier0-cpu" in text


def test_a_full_disk_is_a_warning_in_the_plan() -> None:
    p = plan("rtx4090", "vllm", free=5 * 1024**3)
    assert any("needs 20.0 GiB of disk" in w and "5.0 GiB free" in w for w in p.warnings)


def test_a_mode_the_module_cannot_use_is_refused() -> None:
    with pytest.raises(ResolutionError) as info:
        plan("rtx4090", "vllm", mode="container")
    assert "you asked for the container mode: the image digest is unknown" in str(info.value)


@pytest.mark.parametrize(
    ("requests", "mode", "text"),
    [
        ([], None, "name at least one module"),
        (["vllm;rm -rf"], None, "is not a module name with optional versions"),
        (["vllm; python_version > '3'"], None, "is not a module name with optional versions"),
        (["vllm[all]"], None, "is not a module name with optional versions"),
        (["vllm @ https://example.org/x"], None, "is not a module name with optional versions"),
        (["vllm"], "docker", "'docker' is not an execution mode"),
        (["x"] * 65, None, "at most 64 modules"),
    ],
)
def test_bad_requests_say_what_is_wrong(requests: list[str], mode: str | None, text: str) -> None:
    with pytest.raises(InvalidArgs) as info:
        plan("rtx4090", *requests, mode=mode)
    assert text in str(info.value)


def test_quadlet_only_from_podman_4_4_on() -> None:
    _, _, host = machine("a100x2-nvlink")
    odd = ContainerSupport(podman=True, podman_version="4.3.1", quadlet=True, cdi_kinds=())
    assert container_unit_kind(dataclasses.replace(host, containers=odd))[0] == (
        "podman-run service"
    )
    unknown = ContainerSupport(podman=True, podman_version=None, quadlet=True, cdi_kinds=())
    kind, why = container_unit_kind(dataclasses.replace(host, containers=unknown))
    assert (kind, why) == (
        "quadlet container",
        "a quadlet unit (podman's quadlet generator is installed)",
    )


@pytest.mark.parametrize(
    ("driver", "expected"),
    [("12.4", "cu124"), ("13.0", "cu124"), ("11.8", "cu118"), (None, "cpu"), ("10.2", "cpu")],
)
def test_the_wheel_index_follows_the_cuda_driver(driver: str | None, expected: str) -> None:
    from lais_agent.catalog.planning import _wheel_index

    m = server(["venv"])
    venv = m.versions[0].modes.venv
    assert venv is not None
    index = {
        "cuda12": "https://download.pytorch.org/whl/cu124",
        "cuda11": "https://download.pytorch.org/whl/cu118",
        "cpu": "https://download.pytorch.org/whl/cpu",
    }
    ver = m.versions[0].model_copy(
        update={
            "modes": m.versions[0].modes.model_copy(
                update={"venv": venv.model_copy(update={"wheel_index": index})}
            )
        }
    )
    _, facts, host = machine("rtx4090")
    chosen, _ = _wheel_index(ver, dataclasses.replace(host, cuda_driver=driver), facts)
    assert chosen is not None
    assert chosen.endswith(expected)

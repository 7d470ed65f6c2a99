"""Resolution and installability refusals word for word: the chain of constraints, the
order of who asked, the search budget, and each hardware, runtime and mode reason."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import ValidationError

from lais_agent.catalog import resolver
from lais_agent.catalog.installable import Host, judge
from lais_agent.catalog.manifest import Manifest
from lais_agent.catalog.resolver import ResolutionError, resolve
from lais_agent.hardware.profile import NO_CONTAINERS
from tests.unit.catalog.test_modes_and_plans import machine
from tests.unit.catalog.test_plan_details import NATIVE, module
from tests.unit.hardware.test_detect_fixtures import probe


def versions(name: str, *vers: str, deps: tuple[str, ...] = ()) -> Manifest:
    base = module(name, {"native": NATIVE, "prefer": ["native"]}, deps=deps)
    one = base.versions[0]
    return base.model_copy(
        update={"versions": tuple(one.model_copy(update={"version": v}) for v in vers)}
    )


def refusal(manifest: Manifest, ver: Any) -> list[str]:
    return [f"refused {ver.version}"]


# ---------------------------------------------------------------- resolver


def test_a_conflict_names_each_constraint_and_who_made_it() -> None:
    catalog = {"a": versions("a", "1.0", deps=("b>=2",)), "b": versions("b", "1.0")}
    with pytest.raises(ResolutionError) as info:
        resolve(catalog, ["a", "b"])
    assert str(info.value) == (
        "no version of b satisfies any version (you asked for it) and >=2 (a 1.0 needs it)"
    )


def test_no_matching_version_is_said_so() -> None:
    with pytest.raises(ResolutionError) as info:
        resolve({"b": versions("b", "1.0")}, ["b>=2"])
    assert str(info.value) == "no version of b satisfies >=2 (you asked for it)"


def test_every_refused_version_is_named_with_its_first_reason() -> None:
    catalog = {"b": versions("b", "1.0", "2.0")}
    with pytest.raises(ResolutionError) as info:
        resolve(catalog, ["b"], judge=refusal)
    assert (
        str(info.value)
        == "no version of b can be installed here (2.0: refused 2.0; 1.0: refused 1.0)"
    )
    with pytest.raises(ResolutionError) as info:
        resolve(catalog, ["b>=1"], judge=refusal)
    assert str(info.value) == (
        "no version of b that satisfies >=1 (you asked for it) can be installed here "
        "(2.0: refused 2.0; 1.0: refused 1.0)"
    )


def test_a_cycle_is_shown_from_where_it_starts() -> None:
    catalog = {
        "r": versions("r", "1.0", deps=("a",)),
        "a": versions("a", "1.0", deps=("b",)),
        "b": versions("b", "1.0", deps=("a",)),
    }
    with pytest.raises(ResolutionError) as info:
        resolve(catalog, ["r"])
    assert str(info.value) == "dependency cycle: a 1.0 -> b 1.0 -> a"


def test_you_come_first_among_those_who_asked() -> None:
    catalog = {"a": versions("a", "1.0", deps=("b",)), "b": versions("b", "1.0")}
    plan = resolve(catalog, ["a", "b"])
    assert [(s.module, s.requested_by) for s in plan.steps] == [
        ("b", ("you", "a 1.0")),
        ("a", ("you",)),
    ]
    assert plan.version_of("b") == "1.0"
    assert plan.version_of("missing") is None


def test_one_step_fits_a_budget_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolver, "MAX_STEPS", 1)
    assert resolve({"b": versions("b", "1.0")}, ["b"]).version_of("b") == "1.0"


# ---------------------------------------------------------------- installability


def _reasons(fixture: str, manifest: Manifest, **host_changes: Any) -> tuple[str, ...]:
    cap, facts, host = machine(fixture)
    host = dataclasses.replace(host, **host_changes)
    return judge(manifest, manifest.versions[0], cap, facts, host).reasons


def _native(**hardware: Any) -> Manifest:
    return module("srv", {"native": NATIVE, "prefer": ["native"]}, hardware=hardware)


def test_a_gpu_need_on_a_machine_without_one() -> None:
    assert _reasons("laptop-cpu-only", _native(gpu="required")) == (
        "needs a GPU; none is usable here",
    )


def test_a_gpu_of_another_vendor_names_the_vendors_wanted() -> None:
    assert _reasons("rtx4090", _native(gpu="required", gpu_vendors=["amd", "intel"])) == (
        "needs a GPU from amd or intel",
    )
    assert _reasons("rtx4090", _native(gpu="required", gpu_vendors=["amd", "nvidia"])) == ()


def test_a_driver_too_old_for_the_cuda_needed_says_what_it_supports() -> None:
    srv = module("srv", {"native": NATIVE, "prefer": ["native"]})
    srv = srv.model_copy(
        update={
            "versions": (
                srv.versions[0].model_copy(
                    update={
                        "needs": srv.versions[0].needs.model_copy(
                            update={"runtime": ("cuda>=12.4",)}
                        )
                    }
                ),
            )
        }
    )
    assert _reasons("a100x2-nvlink", srv) == ("needs CUDA >=12.4; the driver supports CUDA 12.2",)
    assert _reasons("a100x2-nvlink", srv, cuda_driver=None) == (
        "needs CUDA >=12.4; no NVIDIA driver",
    )


def test_mode_reasons_on_a_machine_that_lacks_what_they_need() -> None:
    srv = module(
        "srv",
        {
            "apt": {"packages": {"debian-12": ["srv"]}},
            "venv": {"requirements": ["srv"]},
            "prefer": ["apt", "venv"],
        },
    )
    assert _reasons("rtx4090", srv, release=None, python=None) == (
        "apt: no packages listed for this release",
        "venv: needs Python >=3.10; this system has no /usr/bin/python3",
    )


def test_versions_that_do_not_parse_meet_no_constraint() -> None:
    srv = module("srv", {"venv": {"requirements": ["srv"]}, "prefer": ["venv"]})
    assert _reasons("rtx4090", srv, python="3.x-custom") == (
        "venv: needs Python >=3.10; this system has 3.x-custom",
    )


def test_hardware_reasons_and_mode_reasons_are_both_given() -> None:
    srv = module(
        "srv",
        {
            "container": {"image": "docker.io/example/srv:1.0", "digest": "sha256:" + "ab" * 32},
            "prefer": ["container"],
        },
        hardware={"min_rank": 3},
    )
    assert _reasons("laptop-cpu-only", srv, containers=NO_CONTAINERS) == (
        "needs capability tier rank >= 3; this machine is tier0-cpu",
        "container: podman is not installed (apt install podman)",
    )


def test_the_host_of_a_profile() -> None:
    profile = probe("rtx4090")
    host = Host.from_profile(profile)
    assert (host.release, host.render_vendors) == ("ubuntu-22.04", frozenset({"nvidia"}))
    other_os = dataclasses.replace(profile.os, id="fedora", version_id="40")
    assert Host.from_profile(dataclasses.replace(profile, os=other_os)).release is None
    gpu = profile.gpus[0]
    for changed in (
        dataclasses.replace(gpu, driver=None),
        dataclasses.replace(gpu, render_node=None),
    ):
        assert (
            Host.from_profile(dataclasses.replace(profile, gpus=(changed,))).render_vendors
            == frozenset()
        )


def test_an_entrypoint_outside_the_payload_is_refused_in_words() -> None:
    with pytest.raises(ValidationError) as info:
        module("srv", {"native": {**NATIVE, "entrypoint": "bin/../x"}, "prefer": ["native"]})
    assert "'bin/../x' must be a relative path inside the payload, without '..'" in str(info.value)
    with pytest.raises(ValidationError, match="must be a relative path inside the payload"):
        module("srv", {"native": {**NATIVE, "entrypoint": "bin//srv"}, "prefer": ["native"]})

"""Install plans, mode choice and container checks, field by field: each download's kind,
source and check, each step's sizes, each warning, reason and hint, word for word."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from lais_agent.catalog import resolver
from lais_agent.catalog.installable import Host, judge
from lais_agent.catalog.manifest import MODES, Manifest
from lais_agent.catalog.modes import ModeUnavailable, choose_mode, container_unit_kind
from lais_agent.catalog.planning import (
    Download,
    GiB,
    InstallPlan,
    PlanOptions,
    _requests,
    _wheel_index,
    plan_install,
)
from lais_agent.catalog.resolver import ResolutionError
from lais_agent.errors import InvalidArgs
from lais_agent.hardware.profile import ContainerSupport
from tests.unit.catalog.test_modes_and_plans import (
    CATALOG,
    DIGEST,
    PODMAN_49,
    SHA,
    deny_modes,
    machine,
)

URL = "https://example.org/srv.tar.gz"
NATIVE = {"artifacts": {"x86_64": {"url": URL, "sha256": SHA}}, "entrypoint": "bin/srv"}
CU12 = "https://download.pytorch.org/whl/cu124"
CU11 = "https://download.pytorch.org/whl/cu118"
ROCM = "https://download.pytorch.org/whl/rocm6.2"
CPU = "https://download.pytorch.org/whl/cpu"


def module(
    name: str,
    modes: dict[str, Any],
    *,
    hardware: dict[str, Any] | None = None,
    deps: tuple[str, ...] = (),
    system_packages: dict[str, list[str]] | None = None,
    service: bool = True,
) -> Manifest:
    doc: dict[str, Any] = {
        "apiVersion": "localaistack.org/v1",
        "kind": "Module",
        "metadata": {
            "name": name,
            "category": "service",
            "title": name.title(),
            "description": "x",
            "homepage": "https://example.org",
            "license": "MIT",
        },
        "versions": [
            {
                "version": "1.0",
                "needs": {
                    "hardware": hardware or {},
                    "modules": list(deps),
                    "system_packages": system_packages or {},
                },
                "modes": modes,
            }
        ],
    }
    if service:
        doc["service"] = {"command": [name], "ports": [{"name": "http", "port": 9000}]}
    return Manifest.model_validate(doc)


def planned(
    catalog: dict[str, Manifest],
    *names: str,
    mode: str | None = None,
    free: int | None = None,
    fixture: str = "a100x2-nvlink",  # Debian 12, x86_64, CUDA 12.2, tier 3
    **host_changes: Any,
) -> InstallPlan:
    cap, facts, host = machine(fixture, PODMAN_49)
    return plan_install(
        catalog,
        list(names),
        PlanOptions(mode=mode),
        capability=cap,
        facts=facts,
        host=dataclasses.replace(host, **host_changes),
        disk_free_bytes=free,
    )


# ---------------------------------------------------------------- downloads


def test_a_native_step_downloads_the_artifact_checked_by_its_sha256() -> None:
    srv = module("srv", {"native": NATIVE, "prefer": ["native"]})
    (step,) = planned({"srv": srv}, "srv").steps
    assert step.mode == "native"
    assert step.action == "install"
    assert step.downloads == (Download("artifact", URL, f"sha256:{SHA}"),)


def test_a_container_step_downloads_the_image_by_digest_without_its_tag() -> None:
    image = "registry.example.org:5000/example/srv:1.0"  # a registry port: a second ':'
    srv = module("srv", {"container": {"image": image, "digest": DIGEST}, "prefer": ["container"]})
    (step,) = planned({"srv": srv}, "srv").steps
    assert step.mode == "container"
    assert step.downloads == (
        Download("image", f"registry.example.org:5000/example/srv@{DIGEST}", DIGEST),
    )


def test_a_venv_step_downloads_its_requirements_from_the_index_and_says_how_little_is_checked() -> (
    None
):
    modes = {
        "venv": {"requirements": ["srv==1.0", "extra>=2"], "wheel_index": {"cuda12": CU12}},
        "native": NATIVE,
        "prefer": ["venv", "native"],
    }
    (step,) = planned({"srv": module("srv", modes)}, "srv").steps
    assert step.mode == "venv"
    assert step.downloads == (
        Download(
            "python-packages",
            f"srv==1.0 extra>=2 (index {CU12})",
            "TLS to the index only, no pinned hashes",
        ),
    )
    assert step.explanation[-1] == (
        "python packages: CUDA 12 wheels (the driver supports CUDA 12.2)"
    )


def test_a_venv_step_without_an_index_names_no_index() -> None:
    modes = {"venv": {"requirements": ["srv==1.0", "extra>=2"]}, "prefer": ["venv"]}
    (step,) = planned({"srv": module("srv", modes)}, "srv").steps
    assert step.downloads == (
        Download("python-packages", "srv==1.0 extra>=2", "TLS to the index only, no pinned hashes"),
    )
    assert step.explanation[-1] == "python packages: wheels from PyPI"


def test_an_apt_step_downloads_its_packages_and_the_system_packages_of_this_release() -> None:
    srv = module(
        "srv",
        {"apt": {"packages": {"debian-12": ["srv", "srv-data"]}}, "prefer": ["apt"]},
        system_packages={"debian-12": ["libfoo1", "libbar2"], "ubuntu-22.04": ["other"]},
    )
    (step,) = planned({"srv": srv}, "srv").steps
    assert step.downloads == (
        Download("apt-packages", "srv srv-data", "the archive's signatures"),
        Download("apt-packages", "libfoo1 libbar2", "the archive's signatures"),
    )


def test_system_packages_of_another_release_are_not_downloaded() -> None:
    srv = module(
        "srv",
        {"native": NATIVE, "prefer": ["native"]},
        system_packages={"ubuntu-22.04": ["other"]},
    )
    (step,) = planned({"srv": srv}, "srv").steps
    assert step.downloads == (Download("artifact", URL, f"sha256:{SHA}"),)
    assert planned({"srv": srv}, "srv").download_count == 1


# ---------------------------------------------------------------- wheel indexes


def _with_index(index: dict[str, str]) -> Any:
    return module(
        "srv", {"venv": {"requirements": ["srv"], "wheel_index": index}, "prefer": ["venv"]}
    )


@pytest.mark.parametrize(
    ("fixture", "driver", "index", "expected"),
    [
        (
            "rtx4090",
            "12.4",
            {"cuda12": CU12, "cuda11": CU11, "cpu": CPU},
            (CU12, "CUDA 12 wheels (the driver supports CUDA 12.4)"),
        ),
        (
            "rtx4090",
            "11.8",
            {"cuda12": CU12, "cuda11": CU11},
            (CU11, "CUDA 11 wheels (the driver supports CUDA 11.8)"),
        ),
        (
            "rx7900xtx",
            None,
            {"rocm": ROCM, "cpu": CPU},
            (ROCM, "ROCm wheels (an AMD GPU is in use)"),
        ),
        ("rtx4090", None, {"rocm": ROCM, "cpu": CPU}, (CPU, "CPU-only wheels")),
        ("rx7900xtx", None, {"cpu": CPU}, (CPU, "CPU-only wheels")),
        ("rx7900xtx", None, {"cuda12": CU12}, (None, "wheels from PyPI")),
        ("rtx4090", None, {}, (None, "wheels from PyPI")),
    ],
)
def test_the_wheel_index_and_why(
    fixture: str, driver: str | None, index: dict[str, str], expected: tuple[str | None, str]
) -> None:
    _, facts, host = machine(fixture)
    ver = _with_index(index).versions[0]
    assert _wheel_index(ver, dataclasses.replace(host, cuda_driver=driver), facts) == expected


# ---------------------------------------------------------------- steps and totals


def test_sizes_come_from_the_manifest_and_vram_only_where_a_gpu_is_used() -> None:
    gpu = module(
        "gpu",
        {"native": NATIVE, "prefer": ["native"]},
        hardware={"gpu": "optional", "min_vram_gib": 4, "min_ram_gib": 8, "disk_gib": 3},
        deps=("cpu",),
    )
    cpu = module(
        "cpu",
        {"native": NATIVE, "prefer": ["native"]},
        hardware={"gpu": "none", "min_vram_gib": 6, "min_ram_gib": 2, "disk_gib": 1},
    )
    p = planned({"gpu": gpu, "cpu": cpu}, "gpu", free=100 * GiB)
    first, second = p.steps
    assert (first.module, first.ram_bytes, first.vram_bytes, first.disk_bytes) == (
        "cpu",
        2 * GiB,
        None,
        1 * GiB,
    )
    assert (second.module, second.ram_bytes, second.vram_bytes, second.disk_bytes) == (
        "gpu",
        8 * GiB,
        4 * GiB,
        3 * GiB,
    )
    assert (p.ram_bytes, p.vram_bytes, p.disk_bytes) == (8 * GiB, 4 * GiB, 4 * GiB)
    assert p.disk_free_bytes == 100 * GiB
    assert p.requested == ("gpu",)
    assert p.warnings == ()


def test_without_any_ram_or_vram_need_the_totals_are_zero() -> None:
    srv = module("srv", {"native": NATIVE, "prefer": ["native"]}, hardware={"disk_gib": 1})
    p = planned({"srv": srv}, "srv>=1.0")
    assert (p.ram_bytes, p.vram_bytes) == (0, 0)
    assert p.steps[0].ram_bytes is None
    assert p.requested == ("srv>=1.0",)
    assert p.disk_free_bytes is None


def test_a_disk_exactly_as_large_as_needed_is_no_warning() -> None:
    srv = module("srv", {"native": NATIVE, "prefer": ["native"]}, hardware={"disk_gib": 2})
    assert planned({"srv": srv}, "srv", free=2 * GiB).warnings == ()
    assert planned({"srv": srv}, "srv", free=2 * GiB - 1).warnings == (
        "needs 2.0 GiB of disk; the model store's filesystem has 2.0 GiB free",
    )


def test_modules_of_unknown_size_are_each_named_in_one_warning() -> None:
    a = module("a", {"native": NATIVE, "prefer": ["native"]}, deps=("b",))
    b = module("b", {"native": NATIVE, "prefer": ["native"]})
    p = planned({"a": a, "b": b}, "a")
    assert p.disk_unknown == ("b", "a")
    assert p.warnings == (
        "the manifests do not give the disk size of b, a; the total leaves them out",
    )


def test_the_mode_asked_for_applies_to_the_requested_modules_only() -> None:
    cap, facts, host = machine("rtx4090")
    p = plan_install(
        CATALOG,
        ["vllm"],
        PlanOptions(mode="venv"),
        capability=cap,
        facts=facts,
        host=host,
        disk_free_bytes=None,
    )
    python, vllm = p.steps
    assert (python.module, python.mode) == ("python", "apt")
    assert not python.explanation[0].endswith("you asked for it")
    assert (vllm.module, vllm.mode) == ("vllm", "venv")
    assert vllm.explanation[0] == "venv: you asked for it"


def test_a_mode_asked_for_that_the_module_lacks_is_refused_in_words() -> None:
    srv = module("srv", {"native": NATIVE, "prefer": ["native"]})
    with pytest.raises(ResolutionError) as info:
        planned({"srv": srv}, "srv", mode="container")
    assert str(info.value) == (
        "no version of srv can be installed here "
        "(1.0: you asked for the container mode: not described by this version)"
    )


def test_a_mode_that_is_not_one_is_refused_with_the_list() -> None:
    with pytest.raises(InvalidArgs) as info:
        planned(CATALOG, "vllm", mode="docker")
    assert str(info.value) == ("'docker' is not an execution mode; use one of " + ", ".join(MODES))
    assert ", ".join(MODES) == "native, apt, container, venv"


def test_a_refused_plan_hints_at_module_info_for_the_one_module_asked_for() -> None:
    with pytest.raises(ResolutionError) as info:
        planned(CATALOG, "vllm", fixture="laptop-cpu-only")
    assert info.value.hint == "`laisctl module info vllm` shows each version and why"


def test_a_refused_plan_of_several_modules_hints_at_module_info_in_general() -> None:
    with pytest.raises(ResolutionError) as info:
        planned(CATALOG, "vllm", "python", fixture="laptop-cpu-only")
    assert info.value.hint == "`laisctl module info NAME` shows each version and why"


def test_the_resolvers_own_hint_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolver, "MAX_STEPS", 0)
    with pytest.raises(ResolutionError) as info:
        planned(CATALOG, "vllm", fixture="rtx4090")
    assert info.value.hint == "name versions to narrow the search, e.g. 'vllm==0.7.2'"


def test_requests_word_for_word() -> None:
    assert len(_requests(["x"] * 64)) == 64
    with pytest.raises(InvalidArgs) as info:
        _requests([])
    assert str(info.value) == "name at least one module to plan"
    with pytest.raises(InvalidArgs) as info:
        _requests(["vllm[all]"])
    assert str(info.value) == (
        "'vllm[all]' is not a module name with optional versions, like 'vllm' or 'aider>=0.80'"
    )


# ---------------------------------------------------------------- mode choice


def _srv_native_venv() -> Manifest:
    return module(
        "srv",
        {"native": NATIVE, "venv": {"requirements": ["srv"]}, "prefer": ["native", "venv"]},
    )


def test_a_mode_the_version_does_not_describe_is_refused_with_the_usable_ones() -> None:
    cap, facts, host = machine("a100x2-nvlink", PODMAN_49)
    m = _srv_native_venv()
    v = judge(m, m.versions[0], cap, facts, host)
    with pytest.raises(ModeUnavailable) as info:
        choose_mode("srv", m.versions[0], v, host, "container")
    assert str(info.value) == (
        "srv 1.0 cannot run in the container mode here: not described by this version"
    )
    assert info.value.hint == "usable modes: native, venv"


def test_with_no_usable_mode_the_hint_says_none() -> None:
    cap, facts, host = machine("a100x2-nvlink", PODMAN_49)
    cap = deny_modes(cap, *MODES)
    m = _srv_native_venv()
    v = judge(m, m.versions[0], cap, facts, host)
    with pytest.raises(ModeUnavailable) as info:
        choose_mode("srv", m.versions[0], v, host, "venv")
    assert str(info.value) == (
        f"srv 1.0 cannot run in the venv mode here: the capability policy denies the venv "
        f"mode on {cap.tier}"
    )
    assert info.value.hint == "usable modes: none"


def _host_with(containers: ContainerSupport) -> Host:
    _, _, host = machine("a100x2-nvlink")
    return dataclasses.replace(host, containers=containers)


def test_a_podman_of_unknown_version_without_quadlet_is_called_this_podman() -> None:
    host = _host_with(
        ContainerSupport(podman=True, podman_version=None, quadlet=False, cdi_kinds=())
    )
    assert container_unit_kind(host) == (
        "podman-run service",
        "a plain podman-run service unit (this podman has no quadlet; it needs podman >= 4.4)",
    )


def test_podman_4_4_itself_runs_quadlets() -> None:
    host = _host_with(
        ContainerSupport(podman=True, podman_version="4.4", quadlet=True, cdi_kinds=())
    )
    assert container_unit_kind(host) == ("quadlet container", "a quadlet unit (podman 4.4 >= 4.4)")


def test_a_podman_version_that_does_not_parse_is_not_judged_too_old() -> None:
    odd = "4.9.3~rc1"
    host = _host_with(ContainerSupport(podman=True, podman_version=odd, quadlet=True, cdi_kinds=()))
    assert container_unit_kind(host) == (
        "quadlet container",
        f"a quadlet unit (podman {odd} >= 4.4)",
    )


# ---------------------------------------------------------------- container checks


def _container_note(fixture: str, gpu: str, **containers: Any) -> str | None:
    cap, facts, host = machine(fixture, dataclasses.replace(PODMAN_49, **containers))
    m = module(
        "srv",
        {
            "container": {"image": "docker.io/example/srv:1.0", "digest": DIGEST, "gpu": gpu},
            "native": NATIVE,
            "prefer": ["container", "native"],
        },
    )
    return judge(m, m.versions[0], cap, facts, host).mode_notes.get("container")


def test_a_gpu_container_without_the_nvidia_cdi_spec_says_how_to_make_it() -> None:
    assert _container_note("a100x2-nvlink", "cdi-nvidia", cdi_kinds=()) == (
        "no CDI spec gives containers the NVIDIA GPUs (nvidia-container-toolkit: "
        "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml)"
    )
    assert _container_note("a100x2-nvlink", "cdi-nvidia") is None


def test_an_amd_container_needs_an_amd_gpu_word_for_word() -> None:
    assert _container_note("rtx4090", "amd-kfd") == (
        "needs an AMD GPU with the amdgpu driver (/dev/kfd)"
    )
    assert _container_note("rx7900xtx", "amd-kfd") is None


def test_an_intel_container_needs_an_intel_render_node_word_for_word() -> None:
    assert _container_note("rtx4090", "intel-dri") == "needs an Intel GPU with a DRM render node"
    assert _container_note("laptop-cpu-only", "intel-dri") is None  # an Intel iGPU, render node

"""The service renderer's decisions, one by one: GPUs, limits, names, errors."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from lais_agent.catalog.manifest import Manifest
from lais_agent.errors import InvalidArgs
from lais_agent.hardware.profile import Gpu, HardwareProfile
from lais_agent.policy.engine import evaluate
from lais_agent.policy.facts import facts_from
from lais_agent.units.render import (
    NVIDIA_DEVICES_UNIT,
    ServiceTarget,
    render_nvidia_devices,
    render_service,
    unit_name,
)
from lais_agent.units.unitfile import UnitFileBuilder
from tests.unit.hardware.test_detect_fixtures import probe
from tests.unit.policy.test_engine import SHIPPED
from tests.unit.units import systemd_syntax as sd
from tests.unit.units.test_escaping import BASE

GiB = 1024**3


def manifest(hardware: dict[str, Any] | None = None, **service: Any) -> Manifest:
    data = copy.deepcopy(BASE)
    data["service"].update(service)
    if hardware is not None:
        data["versions"][0]["needs"]["hardware"] = hardware
    return Manifest.model_validate(data)


def render(m: Manifest, profile: HardwareProfile, **target: Any) -> Any:
    args: dict[str, Any] = {"version": "1.0", "mode": "venv", "ports": {"http": 9000}}
    args.update(target)
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(profile))
    return render_service(m, ServiceTarget(**args), profile, cap)


def one(rendered: Any, key: str, section: str = "Service") -> str:
    (value,) = rendered.unit.values(section, key)
    return value  # type: ignore[no-any-return]


def gpu(
    bus: str,
    vendor: str,
    *,
    driver: str | None = "x",
    vram: float | None = 16,
    node: str | None = None,
) -> Gpu:
    size = None if vram is None else int(vram * GiB)
    return Gpu(bus, vendor, "0", "0", f"{vendor} {bus}", driver, size, render_node=node)


def with_gpus(*gpus: Gpu, name: str = "laptop-cpu-only") -> HardwareProfile:
    return dataclasses.replace(probe(name), gpus=gpus)


def test_no_gpu_wanted_means_private_devices_even_on_a_gpu_machine() -> None:
    r = render(manifest({"gpu": "none"}), probe("rtx4090"))
    assert one(r, "PrivateDevices") == "yes"
    assert r.unit.values("Service", "DeviceAllow") == ()
    assert r.unit.values("Service", "DevicePolicy") == ()
    assert r.gpu is None
    assert r.wants == ()
    assert one(r, "After", "Unit") == "network.target"


def test_nvidia_gets_exactly_its_nodes_and_the_device_nodes_unit() -> None:
    r = render(manifest(), probe("rtx4090"))
    assert one(r, "DevicePolicy") == "closed"
    assert r.unit.values("Service", "PrivateDevices") == ()
    assert r.unit.values("Service", "DeviceAllow") == (
        "/dev/nvidiactl rw",
        "/dev/nvidia0 rw",
        "/dev/nvidia-uvm rw",
        "/dev/nvidia-uvm-tools rw",
        "/dev/nvidia-modeset rw",
    )
    assert r.wants == (NVIDIA_DEVICES_UNIT,)
    assert one(r, "Wants", "Unit") == NVIDIA_DEVICES_UNIT
    assert one(r, "After", "Unit") == f"network.target {NVIDIA_DEVICES_UNIT}"
    assert r.unit.values("Service", "SupplementaryGroups") == ()  # nvidia nodes are 0666


def test_nvidia_minors_follow_pci_order_of_every_bound_gpu() -> None:
    small = gpu("0000:01:00.0", "nvidia", vram=2)  # bound but too small to count
    unbound = gpu("0000:02:00.0", "nvidia", driver=None)
    big = gpu("0000:03:00.0", "nvidia")
    r = render(manifest(), with_gpus(big, unbound, small))
    assert r.gpu.nvidia_minors == (1,)
    assert "/dev/nvidia1 rw" in r.unit.values("Service", "DeviceAllow")
    assert "/dev/nvidia0 rw" not in r.unit.values("Service", "DeviceAllow")


def test_amd_gets_kfd_and_its_render_nodes_with_the_render_group() -> None:
    r = render(manifest(), probe("rx7900xtx"))
    assert r.unit.values("Service", "DeviceAllow") == ("/dev/kfd rw", "/dev/dri/renderD128 rw")
    assert one(r, "SupplementaryGroups") == "render video"
    assert r.wants == ()


def test_intel_gets_its_render_node_only() -> None:
    arc = gpu("0000:03:00.0", "intel", node="/dev/dri/renderD129")
    r = render(manifest(), with_gpus(arc))
    assert r.unit.values("Service", "DeviceAllow") == ("/dev/dri/renderD129 rw",)
    assert r.gpu.vendor == "intel"


def test_gpus_that_do_not_count_or_lack_a_node_give_no_access() -> None:
    for gpus in (
        (gpu("0000:03:00.0", "intel", vram=None, node="/dev/dri/renderD128"),),
        (gpu("0000:03:00.0", "amd", node=None),),
        (gpu("0000:03:00.0", "other", node="/dev/dri/renderD128"),),
    ):
        assert one(render(manifest(), with_gpus(*gpus)), "PrivateDevices") == "yes"
    assert one(render(manifest(), probe("nvidia-no-driver")), "PrivateDevices") == "yes"


def test_the_manifests_vendors_and_one_vendor_per_unit() -> None:
    amd = gpu("0000:01:00.0", "amd", node="/dev/dri/renderD128")
    nv = gpu("0000:02:00.0", "nvidia")
    only_nvidia = {"gpu": "required", "gpu_vendors": ["nvidia"]}
    assert render(manifest(only_nvidia), with_gpus(amd, nv)).gpu.vendor == "nvidia"
    assert render(manifest(), with_gpus(amd, nv)).gpu.vendor == "amd"  # the first GPU's
    assert (
        render(manifest({"gpu": "optional", "gpu_vendors": ["intel"]}), with_gpus(amd)).gpu is None
    )


def test_memory_max_is_the_lower_of_manifest_and_policy_ceiling() -> None:
    laptop = probe("laptop-cpu-only")  # 31 GiB, tier0 allows 75 % of it
    ceiling = int(laptop.memory.total_bytes * 0.75) // 2**20  # type: ignore[operator]
    tunables = render(manifest(), laptop).tunables
    assert tunables.values("Service", "MemoryMax") == (f"{ceiling}M",)
    small = render(manifest(memory_max_gib=2, cpu_weight=50), laptop).tunables
    assert small.values("Service", "MemoryMax") == ("2048M",)
    assert small.values("Service", "CPUWeight") == ("50",)
    big = render(manifest(memory_max_gib=1000), laptop).tunables
    assert big.values("Service", "MemoryMax") == (f"{ceiling}M",)
    unknown = dataclasses.replace(
        laptop, memory=dataclasses.replace(laptop.memory, total_bytes=None)
    )
    assert render(manifest(), unknown).tunables.values("Service", "MemoryMax") == ("infinity",)
    assert render(manifest(), laptop).tunables.values("Service", "CPUWeight") == ("100",)


def test_restart_comes_from_the_manifest_and_sits_in_the_tunables() -> None:
    r = render(manifest(restart="always"), probe("laptop-cpu-only"))
    assert r.tunables.values("Service", "Restart") == ("always",)
    assert r.unit.values("Service", "Restart") == ()
    assert (r.dropin_dir, r.dropin_name) == ("lais-srv.service.d", "10-tunables.conf")


def test_memory_deny_write_execute_unless_the_runtime_jits() -> None:
    laptop = probe("laptop-cpu-only")
    assert one(render(manifest(), laptop), "MemoryDenyWriteExecute") == "yes"
    assert one(render(manifest(jit=True), laptop), "MemoryDenyWriteExecute") == "no"


def test_a_model_is_bound_read_only_and_readable_through_the_models_group() -> None:
    m = manifest(command=["{payload}/bin/srv", "{model}"])
    r = render(m, probe("laptop-cpu-only"), model="/var/lib/localaistack/models/a.gguf")
    assert one(r, "BindReadOnlyPaths") == "/var/lib/localaistack/models/a.gguf"
    assert one(r, "SupplementaryGroups") == "lais-models"
    assert one(r, "ProtectHome") == "yes"
    home = render(m, probe("laptop-cpu-only"), model="/home/ann/m.gguf")
    assert one(home, "ProtectHome") == "tmpfs"  # hides /home but lets the bind through
    assert one(render(m, probe("rx7900xtx"), model="/m.gguf"), "SupplementaryGroups") == (
        "lais-models render video"
    )
    assert one(render(m, probe("laptop-cpu-only"), model="/homer/m"), "ProtectHome") == "yes"


def test_no_model_no_bind_and_no_group() -> None:
    r = render(manifest(), probe("laptop-cpu-only"))
    assert r.unit.values("Service", "BindReadOnlyPaths") == ()
    assert r.unit.values("Service", "SupplementaryGroups") == ()


@pytest.mark.parametrize("model", ["m.gguf", "/a/../b", "/a/./b", "/a//b", "/a/b/", "//m"])
def test_the_model_path_is_absolute_and_normalized(model: str) -> None:
    m = manifest(command=["{payload}/bin/srv", "{model}"])
    with pytest.raises(InvalidArgs, match=r"^model: .*normalized absolute path"):
        render(m, probe("laptop-cpu-only"), model=model)


def test_hardening_is_on() -> None:
    r = render(manifest(), probe("laptop-cpu-only"))
    expected = {
        "Type": "exec",
        "Slice": "lais.slice",
        "DynamicUser": "yes",
        "StateDirectory": "lais/srv",
        "CacheDirectory": "lais/srv",
        "WorkingDirectory": "/var/lib/lais/srv",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "ProtectClock": "yes",
        "ProtectHostname": "yes",
        "SystemCallArchitectures": "native",
        "UMask": "0077",
    }
    assert {k: one(r, k) for k in expected} == expected
    assert r.unit.values("Service", "SystemCallFilter") == (
        "@system-service",
        "~@privileged @resources",
    )
    assert one(r, "WantedBy", "Install") == "multi-user.target"
    assert sd.environment(r.unit.values("Service", "Environment")[0]) == {
        "HOME": "/var/lib/lais/srv"
    }


def test_unit_names() -> None:
    assert unit_name("llama.cpp") == "lais-llama.cpp.service"
    assert unit_name("a+b") == "lais-a\\x2bb.service"
    assert unit_name("a+b", "container") == "lais-a\\x2bb.container"
    for bad in ("", "A", "-x", "a/b", "a b", "x" * 64):
        with pytest.raises(InvalidArgs, match="is not a module name"):
            unit_name(bad)
    assert unit_name("x" * 63) == f"lais-{'x' * 63}.service"


def test_the_payload_is_the_current_link_and_placeholders_expand() -> None:
    m = manifest(command=["{payload}/bin/srv", "{state}", "{version}", "{port:http}"])
    argv = sd.exec_argv(one(render(m, probe("laptop-cpu-only")), "ExecStart"))[1]
    assert argv == [
        "/var/lib/localaistack/modules/srv/current/bin/srv",
        "/var/lib/lais/srv",
        "1.0",
        "9000",
    ]


@pytest.mark.parametrize(
    ("change", "target", "message"),
    [
        (
            {"command": ["/x", "{nope}"]},
            {},
            r"^service\.command\[1\]: \{nope\} is not a placeholder",
        ),
        ({"command": ["/x", "{port}"]}, {}, r"\{port\} is not a placeholder units know"),
        ({"command": ["/x", "{port:dns}"]}, {}, r"\{port:dns\} names no port of this module"),
        ({"command": ["/x", "{setting:y}"]}, {}, r"\{setting:y\} names no setting"),
        ({"command": ["/x", "{model}"]}, {}, r"needs a model and none is set"),
        ({"environment": {"A": "{nope}"}}, {}, r"^service\.environment\.A: "),
        ({}, {"ports": {}}, r"no port was chosen for srv's port 'http'"),
        ({}, {"version": "2.0"}, r"srv has no version '2\.0'"),
        ({}, {"mode": "native"}, r"srv 1\.0 has no native mode"),
        ({}, {"mode": "apt"}, r"srv 1\.0 has no apt mode"),
    ],
)
def test_what_cannot_be_rendered_says_why(
    change: dict[str, Any], target: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgs, match=message):
        render(manifest(**change), probe("laptop-cpu-only"), **target)


def test_a_module_without_a_service_has_no_unit() -> None:
    data = copy.deepcopy(BASE)
    del data["service"]
    with pytest.raises(InvalidArgs, match="srv runs no service"):
        render(Manifest.model_validate(data), probe("laptop-cpu-only"))


def test_the_model_hint_says_how_to_set_one() -> None:
    with pytest.raises(InvalidArgs) as err:
        render(manifest(command=["/x", "{model}"]), probe("laptop-cpu-only"))
    assert err.value.hint == "set one first: laisctl set NAME model=REFERENCE"


def test_nvidia_devices_unit_creates_every_node_as_root() -> None:
    unit = render_nvidia_devices((1, 0, 1))
    assert [sd.exec_argv(v) for v in unit.values("Service", "ExecStart")] == [
        ("", ["/usr/bin/nvidia-modprobe", "-c=255", "-c=0", "-c=1"]),
        ("", ["/usr/bin/nvidia-modprobe", "-u", "-c=0"]),
        ("-", ["/usr/bin/nvidia-modprobe", "-m"]),
    ]
    assert unit.values("Unit", "ConditionPathExists") == ("/usr/bin/nvidia-modprobe",)
    assert unit.values("Service", "Type") == ("oneshot",)
    assert unit.values("Service", "RemainAfterExit") == ("yes",)


def test_the_builder_keeps_order_and_repeats_and_checks_names() -> None:
    b = UnitFileBuilder("top")
    b.add("Unit", "A", "1").add("Service", "B", "2").add("Unit", "A", "3")
    assert b.build().render() == "# top\n\n[Unit]\nA=1\nA=3\n\n[Service]\nB=2\n"
    assert UnitFileBuilder().add("S", "K", "").build().render() == "[S]\nK=\n"
    assert UnitFileBuilder("", "x").build().render() == "#\n# x\n"
    for section, key in (
        ("Bad Section", "K"),
        ("S", "Bad Key"),
        ("S", "K="),
        ("[S]", "K"),
        ("S", ""),
    ):
        with pytest.raises(InvalidArgs, match="is not a unit file"):
            UnitFileBuilder().add(section, key, "v")


def test_a_native_mode_renders_like_a_venv_one() -> None:
    data = copy.deepcopy(BASE)
    data["versions"][0]["modes"]["native"] = {
        "artifacts": {"x86_64": {"url": "https://example.org/s.tgz", "sha256": "ab" * 32}},
        "entrypoint": "bin/srv",
    }
    r = render(Manifest.model_validate(data), probe("laptop-cpu-only"), mode="native")
    assert r.unit.header[1] == "module srv 1.0, native mode"
    data["versions"][0]["modes"] = {
        "native": data["versions"][0]["modes"]["native"],
        "prefer": ["native"],
    }
    native_only = Manifest.model_validate(data)
    with pytest.raises(InvalidArgs, match=r"has no venv mode to run as a service unit$"):
        render(native_only, probe("laptop-cpu-only"))

from __future__ import annotations

from dataclasses import dataclass

import pytest
from dbus_fast import Variant

from lais_agent.bus.manager import hardware_vardict
from lais_agent.bus.wire import signature_of, to_vardict
from lais_agent.hardware.profile import (
    Cpu,
    Gpu,
    HardwareProfile,
    Memory,
    Os,
    Storage,
)


@dataclass(frozen=True)
class Inner:
    name: str


@dataclass(frozen=True)
class Outer:
    count: int
    ratio: float
    flag: bool
    tags: tuple[str, ...]
    inner: Inner
    items: tuple[Inner, ...]
    maybe: str | None = None


def test_signatures_follow_annotations() -> None:
    assert signature_of(str) == "s"
    assert signature_of(int) == "x"
    assert signature_of(bool) == "b"
    assert signature_of(tuple[str, ...]) == "as"
    assert signature_of(Inner) == "a{sv}"
    assert signature_of(tuple[Inner, ...]) == "aa{sv}"
    assert signature_of(int | None) == "x"
    with pytest.raises(TypeError):
        signature_of(dict)


def test_empty_lists_keep_their_type_and_none_is_absent() -> None:
    out = to_vardict(Outer(1, 0.5, True, (), Inner("a"), ()))
    assert out["tags"] == Variant("as", [])
    assert out["items"] == Variant("aa{sv}", [])
    assert out["inner"] == Variant("a{sv}", {"name": Variant("s", "a")})
    assert "maybe" not in out


def test_hardware_tree_marshals() -> None:
    profile = HardwareProfile(
        cpu=Cpu("X", "GenuineIntel", "x86_64", 1, 4, 8, ("avx2",), 1),
        memory=Memory(1, 1, 0, 0),
        storage=Storage("/s", "/", "ext4", "/dev/x", 10, 5),
        gpus=(
            Gpu(
                "0000:01:00.0",
                "nvidia",
                "10de",
                "2684",
                "RTX",
                "nvidia",
                24,
                20,
                nvlink_peers=("0000:02:00.0",),
            ),
        ),
        os=Os("debian", "12", "bookworm", "Debian", "6.1", "none", None, "disabled"),
        nvidia=None,
    )
    tree = hardware_vardict(profile)
    assert tree["total_vram_bytes"] == Variant("x", 24)
    gpu = tree["gpus"].value[0]
    assert gpu["nvlink_peers"] == Variant("as", ["0000:02:00.0"])
    assert "nvidia" not in tree


def test_object_path_elements_are_escaped_as_systemd_does() -> None:
    from lais_agent.names import escape_path_element, module_path

    assert escape_path_element("llama.cpp") == "llama_2ecpp"
    assert escape_path_element("0ad") == "_30ad"  # systemd escapes a leading digit too
    assert escape_path_element("c++") == "c_2b_2b"
    assert escape_path_element("") == "_"
    assert module_path("vllm") == "/org/localaistack/Agent1/modules/vllm"

"""Each hardware need a version declares is checked on its own, and says why it fails.

Small in-test manifests and hand-written facts: every test changes one thing, so a
check that stopped being made is the one test that fails.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lais_agent.catalog.installable import Host, Verdict, judge
from lais_agent.catalog.manifest import Manifest
from lais_agent.policy.engine import Capability, Limits
from lais_agent.policy.facts import Facts

SHA = "cd" * 32
NO_LIMITS = Limits(None, None, None, (), (), None, None, None, None)
CAP = Capability("tier2-gpu", 2, "GPU", NO_LIMITS, (), (), (), ())
HOST = Host(release="debian-12", arch="x86_64", python="3.11", cuda_driver=None)
FACTS = Facts(
    gpu_count=1,
    vram_per_gpu_gib=24.0,
    vram_total_gib=24.0,
    nvlink=False,
    ram_gib=64.0,
    cpu_features=frozenset({"avx2", "fma"}),
    gpu_vendors=frozenset({"nvidia"}),
)


def tool(hardware: dict[str, Any], arches: tuple[str, ...] = ("x86_64",)) -> Manifest:
    """A tool with one native version: artifacts for ``arches``, these hardware needs."""
    artifacts = {a: {"url": f"https://example.org/t-{a}.tar.gz", "sha256": SHA} for a in arches}
    return Manifest.model_validate(
        {
            "apiVersion": "localaistack.org/v1",
            "kind": "Module",
            "metadata": {
                "name": "t",
                "category": "tool",
                "title": "T",
                "description": "x",
                "homepage": "https://example.org",
                "license": "MIT",
            },
            "versions": [
                {
                    "version": "1.0",
                    "needs": {"hardware": hardware},
                    "modes": {
                        "native": {"artifacts": artifacts, "entrypoint": "bin/t"},
                        "prefer": ["native"],
                    },
                }
            ],
        }
    )


def verdict(manifest: Manifest, facts: Facts = FACTS, host: Host = HOST) -> Verdict:
    return judge(manifest, manifest.versions[0], CAP, facts, host)


def with_(**changes: Any) -> Facts:
    return dataclasses.replace(FACTS, **changes)


def test_the_reference_machine_meets_every_need_below() -> None:
    needs = {"gpu": "required", "min_vram_gib": 24, "min_ram_gib": 64, "cpu_features": ["avx2"]}
    v = verdict(tool(needs))
    assert v.installable, v.reasons
    assert v.modes == ("native",)


def test_too_little_vram_is_refused_with_both_sizes() -> None:
    m = tool({"gpu": "required", "min_vram_gib": 24})
    assert verdict(m).installable  # 24 GiB is enough: the comparison is >=
    v = verdict(m, with_(vram_per_gpu_gib=23.5, vram_total_gib=47.0))
    assert v.reasons == ("needs 24 GiB VRAM; the largest GPU has 23.5 GiB",)


def test_too_little_ram_is_refused_with_both_sizes() -> None:
    m = tool({"min_ram_gib": 64})
    assert verdict(m).installable
    v = verdict(m, with_(ram_gib=31.2))
    assert v.reasons == ("needs 64 GiB RAM; this machine has 31.2",)


def test_each_missing_cpu_feature_is_named() -> None:
    m = tool({"cpu_features": ["avx2", "avx512f", "amx_tile"]})
    v = verdict(m)
    assert v.reasons == (
        "needs the CPU feature avx512f",
        "needs the CPU feature amx_tile",
    )
    assert verdict(m, with_(cpu_features=frozenset({"avx2", "avx512f", "amx_tile"}))).installable


def test_no_artifact_for_this_architecture_makes_the_native_mode_unusable() -> None:
    m = tool({}, arches=("x86_64",))
    arm = Host(release="debian-12", arch="aarch64", python="3.11", cuda_driver=None)
    v = verdict(m, host=arm)
    assert not v.installable
    assert v.mode_notes == {"native": "no artifact for aarch64"}
    assert v.reasons == ("native: no artifact for aarch64",)
    assert verdict(tool({}, arches=("x86_64", "aarch64")), host=arm).modes == ("native",)

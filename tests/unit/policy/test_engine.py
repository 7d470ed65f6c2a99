"""The policy engine: tiers without gaps, monotone, merged limits, explanations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lais_agent.cli.output import format_tier
from lais_agent.policy.engine import classify, evaluate, merge
from lais_agent.policy.facts import Facts, facts_from
from lais_agent.policy.loader import load_policies
from lais_agent.policy.model import HardwareMinimums, Limits, Rule, Tier, TierSet
from tests.unit.hardware.test_detect_fixtures import FIXTURES, NAMES, probe

REPO = Path(__file__).resolve().parents[3]
SHIPPED = load_policies(REPO / "policies", REPO / "no-admin-dir")
EXPECTED_TIERS = {
    "laptop-cpu-only": "tier0-cpu",
    "rtx4090": "tier2-midrange",
    "a100x2-nvlink": "tier3-highend",
    "rx7900xtx": "tier2-midrange",
    "arc-a770": "tier0-cpu",
    "nvidia-no-driver": "tier0-cpu",
}


def _as_dict(cap: object) -> dict[str, object]:
    import dataclasses

    return dataclasses.asdict(cap)  # type: ignore[call-overload, no-any-return]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_tiers_and_golden_explanations(name: str) -> None:
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(probe(name)))
    assert cap.tier == EXPECTED_TIERS[name]
    text = format_tier(_as_dict(cap), explain=True) + "\n"
    golden = FIXTURES / name / "expected-tier.txt"
    if os.environ.get("LAIS_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_the_issue_example_reads_as_asked() -> None:
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(probe("rtx4090")))
    assert cap.explanation[-1].startswith("tier2-midrange: GPUs 1 >= 1, largest GPU 24.0 GiB")
    assert cap.explanation[0].startswith("not tier3-highend: GPUs 1 < 2")
    assert not cap.runtime_allowed("sglang")
    assert cap.runtime_allowed("vllm")


# ---------------------------------------------------------------- properties ----
facts_strategy = st.builds(
    Facts,
    gpu_count=st.integers(0, 16),
    vram_per_gpu_gib=st.floats(0, 200, allow_nan=False),
    vram_total_gib=st.floats(0, 3200, allow_nan=False),
    nvlink=st.booleans(),
    ram_gib=st.floats(0, 4096, allow_nan=False),
    cpu_features=st.frozensets(st.sampled_from(["avx2", "avx512f", "amx_tile", "sve"])),
    gpu_vendors=st.frozensets(st.sampled_from(["nvidia", "amd", "intel"])),
)

minimums_strategy = st.builds(
    HardwareMinimums,
    gpu_count=st.none() | st.integers(0, 8),
    vram_per_gpu_gib=st.none() | st.floats(0, 160, allow_nan=False),
    vram_total_gib=st.none() | st.floats(0, 640, allow_nan=False),
    ram_gib=st.none() | st.floats(0, 2048, allow_nan=False),
    nvlink=st.none() | st.booleans(),
    cpu_features=st.lists(st.sampled_from(["avx2", "avx512f", "amx_tile"]), max_size=2).map(tuple),
)


@st.composite
def tier_sets(draw: st.DrawFn) -> TierSet:
    extra = draw(st.lists(minimums_strategy, min_size=0, max_size=5))
    tiers = [Tier(id="t0", rank=0, title="base")]
    tiers += [
        Tier(id=f"t{i + 1}", rank=i + 1, title="x", requires=req) for i, req in enumerate(extra)
    ]
    return TierSet(apiVersion="localaistack.org/v1", kind="TierSet", tiers=tuple(tiers))


def _more(a: Facts, b: Facts) -> Facts:
    """``a`` with every quantity raised to at least ``b``'s."""
    return Facts(
        gpu_count=max(a.gpu_count, b.gpu_count),
        vram_per_gpu_gib=max(a.vram_per_gpu_gib, b.vram_per_gpu_gib),
        vram_total_gib=max(a.vram_total_gib, b.vram_total_gib),
        nvlink=a.nvlink or b.nvlink,
        ram_gib=max(a.ram_gib, b.ram_gib),
        cpu_features=a.cpu_features | b.cpu_features,
        gpu_vendors=a.gpu_vendors | b.gpu_vendors,
    )


@settings(max_examples=300)
@given(tier_sets(), facts_strategy)
def test_every_machine_is_in_exactly_one_tier(tiers: TierSet, facts: Facts) -> None:
    chosen, verdicts = classify(tiers, facts)
    matching = [v for v in verdicts if v.matches]
    assert matching, "no tier matched"
    assert chosen.rank == max(v.rank for v in matching)
    assert sum(1 for t in tiers.tiers if t.rank == chosen.rank) == 1


@settings(max_examples=300)
@given(tier_sets(), facts_strategy, facts_strategy)
def test_more_hardware_never_lowers_the_tier(tiers: TierSet, a: Facts, b: Facts) -> None:
    assert classify(tiers, _more(a, b))[0].rank >= classify(tiers, a)[0].rank


@settings(max_examples=300)
@given(facts_strategy, facts_strategy)
def test_shipped_tiers_are_monotone(a: Facts, b: Facts) -> None:
    assert classify(SHIPPED.tiers, _more(a, b))[0].rank >= classify(SHIPPED.tiers, a)[0].rank


# ----------------------------------------------------------------- merging ----
def _rule(rid: str, **limits: object) -> Rule:
    return Rule(id=rid, limits=Limits(**limits))  # type: ignore[arg-type]


NO_GPU = Facts(0, 0, 0, False, 16, frozenset(), frozenset())


def test_most_restrictive_number_wins_with_its_reason() -> None:
    limits, reasons = merge(
        [
            _rule("a", max_model_params_b=34, max_model_quantization_bits=4),
            _rule("b", max_model_params_b=8, max_model_quantization_bits=8),
        ],
        NO_GPU,
    )
    assert limits.max_model_params_b == 8
    assert limits.max_model_quantization_bits == 8  # taken with the winning size
    assert "max_model_params_b 8: rule b" in reasons


def test_allowed_lists_intersect_and_deny_beats_allow() -> None:
    limits, _ = merge(
        [
            _rule("a", allowed_runtimes=("ollama", "vllm", "llama.cpp")),
            _rule("b", allowed_runtimes=("vllm", "llama.cpp")),
            _rule("c", denied_runtimes=("vllm",)),
        ],
        NO_GPU,
    )
    assert limits.allowed_runtimes == ("llama.cpp",)
    assert limits.denied_runtimes == ("vllm",)


def test_tensor_parallel_never_exceeds_the_gpus() -> None:
    two = Facts(2, 80, 160, True, 512, frozenset(), frozenset({"nvidia"}))
    limits, reasons = merge([_rule("a", max_tensor_parallel=8)], two)
    assert limits.max_tensor_parallel == 2
    assert "max_tensor_parallel 2: 2 GPU(s) to split across" in reasons


@settings(max_examples=200)
@given(
    st.lists(
        st.builds(
            Limits,
            max_model_params_b=st.none() | st.floats(0.1, 500, allow_nan=False),
            max_concurrent_models=st.none() | st.integers(1, 8),
            allowed_runtimes=st.none() | st.lists(st.sampled_from(["a", "b", "c"])).map(tuple),
            denied_runtimes=st.lists(st.sampled_from(["a", "b", "c"])).map(tuple),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_merged_limits_respect_every_rule(all_limits: list[Limits]) -> None:
    rules = [Rule(id=f"r{i}", limits=lim) for i, lim in enumerate(all_limits)]
    merged, _ = merge(rules, NO_GPU)
    for lim in all_limits:
        if lim.max_model_params_b is not None:
            assert merged.max_model_params_b is not None
            assert merged.max_model_params_b <= lim.max_model_params_b
        if lim.max_concurrent_models is not None:
            assert merged.max_concurrent_models is not None
            assert merged.max_concurrent_models <= lim.max_concurrent_models
        if lim.allowed_runtimes is not None:
            assert merged.allowed_runtimes is not None
            assert set(merged.allowed_runtimes) <= set(lim.allowed_runtimes)
        for runtime in lim.denied_runtimes:
            assert runtime in merged.denied_runtimes
            assert runtime not in (merged.allowed_runtimes or ())

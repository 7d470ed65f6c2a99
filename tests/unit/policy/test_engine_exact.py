"""Rule matching bounds, tie-breaking, check and reason texts, and facts from odd profiles."""

from __future__ import annotations

import pytest

from lais_agent.hardware.profile import Cpu, Gpu, HardwareProfile, Memory, Os, Storage
from lais_agent.policy.engine import Check, check_minimums, classify, evaluate, merge
from lais_agent.policy.facts import Facts, facts_from
from lais_agent.policy.model import (
    API_VERSION,
    CapabilityPolicy,
    HardwareMinimums,
    Limits,
    Match,
    Rule,
    Tier,
    TierSet,
)

NO_GPU = Facts(0, 0, 0, False, 16, frozenset({"avx2"}), frozenset())
TIERS = TierSet(
    apiVersion=API_VERSION,
    kind="TierSet",
    tiers=(
        Tier(id="t0", rank=0, title="zero"),
        Tier(id="t1", rank=1, title="one", requires=HardwareMinimums(ram_gib=8)),
        Tier(id="t2", rank=2, title="two", requires=HardwareMinimums(ram_gib=64)),
    ),
)


def _rule(rid: str, match: Match | None = None, **limits: object) -> Rule:
    return Rule(id=rid, match=match or Match(), limits=Limits(**limits))


def _matching(*rules: Rule) -> tuple[str, ...]:
    policy = CapabilityPolicy(apiVersion=API_VERSION, kind="CapabilityPolicy", rules=rules)
    capability = evaluate(TIERS, [policy], NO_GPU)  # 16 GiB RAM: tier t1, rank 1
    assert capability.tier == "t1"
    return capability.rules


def test_rank_bounds_are_inclusive_and_each_condition_can_exclude() -> None:
    assert _matching(
        _rule("min-equal", Match(min_rank=1), max_concurrent_models=1),
        _rule("min-above", Match(min_rank=2), max_concurrent_models=1),
        _rule("max-equal", Match(max_rank=1), max_concurrent_models=1),
        _rule("max-below", Match(max_rank=0), max_concurrent_models=1),
        _rule("tier-other", Match(tiers=("t2",)), max_concurrent_models=1),
        _rule("tier-this", Match(tiers=("t1",)), max_concurrent_models=1),
        _rule("vendor-none", Match(gpu_vendors=("nvidia",)), max_concurrent_models=1),
    ) == ("min-equal", "max-equal", "tier-this")


def test_cpu_feature_checks_say_has_or_lacks() -> None:
    req = HardwareMinimums(cpu_features=("avx2", "avx512f"))
    assert check_minimums(req, NO_GPU) == (
        Check("CPU has avx2", True),
        Check("CPU lacks avx512f", False),
    )


def test_on_a_tie_the_first_rule_keeps_the_number_and_its_bits() -> None:
    limits, reasons = merge(
        [
            _rule("first", max_model_params_b=8, max_model_quantization_bits=4),
            _rule("second", max_model_params_b=8, max_model_quantization_bits=8),
        ],
        NO_GPU,
    )
    assert (limits.max_model_params_b, limits.max_model_quantization_bits) == (8, 4)
    assert reasons == ("max_model_params_b 8: rule first",)


def test_three_allowed_lists_intersect() -> None:
    limits, _ = merge(
        [
            _rule("a", allowed_runtimes=("ollama", "vllm", "llama.cpp")),
            _rule("b", allowed_runtimes=("vllm", "llama.cpp")),
            _rule("c", allowed_runtimes=("llama.cpp", "ollama", "vllm")),
        ],
        NO_GPU,
    )
    assert limits.allowed_runtimes == ("llama.cpp", "vllm")


def test_deny_reasons_list_every_runtime_and_mode() -> None:
    _, reasons = merge(
        [_rule("d", denied_runtimes=("vllm", "sglang"), denied_modes=("native", "apt"))], NO_GPU
    )
    assert reasons == ("denied vllm, sglang: rule d", "denied mode native, apt: rule d")


def test_a_tierset_without_a_free_tier_fails_loudly() -> None:
    broken = TierSet.model_construct(
        apiVersion="localaistack.org/v1",
        kind="TierSet",
        tiers=(Tier(id="t1", rank=1, title="one", requires=HardwareMinimums(ram_gib=8)),),
    )
    with pytest.raises(AssertionError) as caught:
        classify(broken, Facts(0, 0, 0, False, 1, frozenset(), frozenset()))
    assert str(caught.value) == "TierSet validation guarantees a tier without requirements"


def _profile(gpus: tuple[Gpu, ...], total: int | None) -> HardwareProfile:
    return HardwareProfile(
        cpu=Cpu(None, None, None, None, None, None, (), None),
        memory=Memory(total, None, None, None),
        storage=Storage("/var/lib/x", None, None, None, None, None),
        gpus=gpus,
        os=Os(None, None, None, None, None, None, None, "unknown"),
        nvidia=None,
    )


def test_a_gpu_that_does_not_count_does_not_hide_the_next_one() -> None:
    unbound = Gpu("0000:01:00.0", "amd", "1002", "744c", "RX 7900", None, 24 * 2**30)
    bound = Gpu("0000:02:00.0", "nvidia", "10de", "2684", "RTX 4090", "nvidia", 24 * 2**30)
    facts = facts_from(_profile((unbound, bound), 64 * 2**30))
    assert (facts.gpu_count, facts.vram_total_gib, facts.gpu_vendors) == (
        1,
        24.0,
        frozenset({"nvidia"}),
    )
    assert facts.notes == ("RX 7900 (0000:01:00.0) does not count: no driver bound",)


def test_unknown_memory_is_zero_ram() -> None:
    assert facts_from(_profile((), None)).ram_gib == 0

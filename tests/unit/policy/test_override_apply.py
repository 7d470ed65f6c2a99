"""Overrides applied to a capability, and request validation: exact limits, types and texts."""

from __future__ import annotations

from dataclasses import replace

from lais_agent.policy.engine import Capability, Limits
from lais_agent.policy.overrides import OVERRIDABLE_NUMBERS, Override, apply, validate_request

BASE = Capability(
    tier="tier1-entry",
    rank=1,
    title="Entry",
    limits=Limits(
        max_model_params_b=8.0,
        max_model_quantization_bits=4,
        allowed_runtimes=("llama.cpp", "vllm"),
        denied_runtimes=("ollama", "sglang"),
        denied_modes=("native",),
        max_tensor_parallel=1,
        max_concurrent_models=1,
        vram_utilization_max=0.9,
        ram_utilization_max=0.8,
    ),
    rules=("entry",),
    explanation=("tier1-entry: GPUs 1 >= 1",),
    reasons=("max_model_params_b 8: rule entry",),
    notes=(),
)

OVR = Override(
    id="ovr-1",
    created_at="2026-01-01T00:00:00Z",
    uid=1000,
    user="alice",
    reason="need it",
    limits={
        "max_model_params_b": 70.0,
        "max_model_quantization_bits": 8.0,
        "max_tensor_parallel": 2.0,
        "max_concurrent_models": 3.0,
    },
    allow_runtimes=("ollama",),
    deny_runtimes=("vllm",),
)


def test_an_override_sets_its_limits_as_integers_and_moves_runtimes() -> None:
    result = apply(BASE, [OVR])
    assert result.limits == Limits(
        max_model_params_b=70.0,
        max_model_quantization_bits=8,
        allowed_runtimes=("llama.cpp", "ollama"),
        denied_runtimes=("sglang", "vllm"),
        denied_modes=("native",),
        max_tensor_parallel=2,
        max_concurrent_models=3,
        vram_utilization_max=0.9,
        ram_utilization_max=0.8,
    )
    for name in ("max_model_quantization_bits", "max_tensor_parallel", "max_concurrent_models"):
        assert type(getattr(result.limits, name)) is int, name
    assert result.reasons == (
        "max_model_params_b 8: rule entry",
        "override ovr-1 by alice at 2026-01-01T00:00:00Z: max_concurrent_models=3, "
        "max_model_params_b=70, max_model_quantization_bits=8, max_tensor_parallel=2, "
        "allow ollama, deny vllm (need it)",
    )
    assert (result.tier, result.rules, result.explanation) == (
        BASE.tier,
        BASE.rules,
        BASE.explanation,
    )


def test_any_runtime_stays_any_runtime_but_denies_still_apply() -> None:
    base = replace(BASE, limits=replace(BASE.limits, allowed_runtimes=None))
    result = apply(base, [OVR])
    assert result.limits.allowed_runtimes is None
    assert result.limits.denied_runtimes == ("sglang", "vllm")


def test_reverted_overrides_change_nothing() -> None:
    reverted = replace(OVR, reverted_at="2026-01-02T00:00:00Z")
    assert apply(BASE, [reverted]) is BASE


def test_summary_lists_limits_then_allows_then_denies() -> None:
    assert OVR.summary() == (
        "max_concurrent_models=3, max_model_params_b=70, max_model_quantization_bits=8, "
        "max_tensor_parallel=2, allow ollama, deny vllm"
    )


def test_a_blank_reason_and_an_empty_request_are_both_named() -> None:
    assert validate_request({}, [], [], "  ") == [
        "a reason is required (it is recorded with the override)",
        "nothing to override: give a limit, --allow-runtime or --deny-runtime",
    ]


def test_an_unknown_limit_lists_the_overridable_ones() -> None:
    assert validate_request({"max_gpus": 2}, [], [], "why") == [
        "max_gpus cannot be overridden; use one of " + ", ".join(OVERRIDABLE_NUMBERS)
    ]
    assert ", ".join(OVERRIDABLE_NUMBERS).startswith("max_model_params_b, max_model_quantization")


def test_range_bounds() -> None:
    assert validate_request({"max_model_params_b": 0}, [], [], "why") == [
        "max_model_params_b=0 is out of range"
    ]
    assert validate_request({"max_model_params_b": -1.5}, [], [], "why") == [
        "max_model_params_b=-1.5 is out of range"
    ]
    assert validate_request({"max_model_params_b": 0.5}, [], [], "why") == []
    assert validate_request({"vram_utilization_max": 1}, [], [], "why") == []
    assert validate_request({"vram_utilization_max": 1.01}, [], [], "why") == [
        "vram_utilization_max=1.01 is out of range"
    ]


def test_runtimes_both_allowed_and_denied_are_listed_sorted() -> None:
    assert validate_request({}, ["vllm", "ollama", "llama.cpp"], ["vllm", "ollama"], "why") == [
        "runtimes both allowed and denied: ollama, vllm"
    ]

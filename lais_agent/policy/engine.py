"""Evaluate policies against facts: the tier, the limits, and why. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lais_agent.policy.facts import Facts

if TYPE_CHECKING:  # the engine only reads validated models; pydantic stays off the agent's
    # start-up path (it costs ~100 ms; the models load with the policy files)
    from lais_agent.policy.model import CapabilityPolicy, HardwareMinimums, Rule, Tier, TierSet


@dataclass(frozen=True)
class Check:
    text: str  # "largest GPU 24.0 GiB >= 20 GiB"
    ok: bool


@dataclass(frozen=True)
class TierVerdict:
    id: str
    rank: int
    title: str
    matches: bool
    checks: tuple[Check, ...]

    def sentence(self) -> str:
        if not self.checks:
            return f"{self.id}: no requirements"
        shown = self.checks if self.matches else tuple(c for c in self.checks if not c.ok)
        prefix = self.id if self.matches else f"not {self.id}"
        return f"{prefix}: " + ", ".join(c.text for c in shown)


@dataclass(frozen=True)
class Limits:
    max_model_params_b: float | None
    max_model_quantization_bits: int | None
    allowed_runtimes: tuple[str, ...] | None  # None: any runtime not denied
    denied_runtimes: tuple[str, ...]
    denied_modes: tuple[str, ...]  # execution modes no module may use here
    max_tensor_parallel: int | None
    max_concurrent_models: int | None
    vram_utilization_max: float | None
    ram_utilization_max: float | None


@dataclass(frozen=True)
class Capability:
    tier: str
    rank: int
    title: str
    limits: Limits
    rules: tuple[str, ...]  # ids of the rules that matched
    explanation: tuple[str, ...]  # one sentence per tier, highest first
    reasons: tuple[str, ...]  # which rule set each limit
    notes: tuple[str, ...]  # facts worth knowing (GPUs that did not count)

    def runtime_allowed(self, runtime: str) -> bool:
        if runtime in self.limits.denied_runtimes:
            return False
        allowed = self.limits.allowed_runtimes
        return allowed is None or runtime in allowed


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def check_minimums(req: HardwareMinimums, facts: Facts) -> tuple[Check, ...]:
    checks: list[Check] = []

    def number(label: str, have: float, need: float | None, unit: str = "") -> None:
        if need is None:
            return
        ok = have >= need
        sign = ">=" if ok else "<"
        checks.append(Check(f"{label} {_fmt(have)}{unit} {sign} {_fmt(need)}{unit}", ok))

    number("GPUs", facts.gpu_count, req.gpu_count)
    number("largest GPU", facts.vram_per_gpu_gib, req.vram_per_gpu_gib, " GiB")
    number("total VRAM", facts.vram_total_gib, req.vram_total_gib, " GiB")
    number("RAM", facts.ram_gib, req.ram_gib, " GiB")
    if req.nvlink:
        checks.append(Check("NVLink present" if facts.nvlink else "no NVLink", facts.nvlink))
    for feature in req.cpu_features:
        ok = feature in facts.cpu_features
        checks.append(Check(f"CPU {'has' if ok else 'lacks'} {feature}", ok))
    return tuple(checks)


def classify(tiers: TierSet, facts: Facts) -> tuple[Tier, tuple[TierVerdict, ...]]:
    """The highest-ranked tier whose minimums all hold, and a verdict for every tier."""
    verdicts = []
    chosen: Tier | None = None
    for tier in sorted(tiers.tiers, key=lambda t: t.rank, reverse=True):
        checks = check_minimums(tier.requires, facts)
        matches = all(c.ok for c in checks)
        verdicts.append(TierVerdict(tier.id, tier.rank, tier.title, matches, checks))
        if matches and chosen is None:
            chosen = tier
    assert chosen is not None, "TierSet validation guarantees a tier without requirements"
    return chosen, tuple(verdicts)


def _rule_matches(rule: Rule, tier: Tier, facts: Facts) -> bool:
    m = rule.match
    if m.tiers is not None and tier.id not in m.tiers:
        return False
    if m.min_rank is not None and tier.rank < m.min_rank:
        return False
    if m.max_rank is not None and tier.rank > m.max_rank:
        return False
    return m.gpu_vendors is None or bool(facts.gpu_vendors & set(m.gpu_vendors))


def merge(rules: Sequence[Rule], facts: Facts) -> tuple[Limits, tuple[str, ...]]:
    """All matching rules together: the most restrictive number wins, allowed lists
    intersect, denies add up and beat allows."""
    reasons: list[str] = []

    def tightest(field: str) -> tuple[float | None, str | None]:
        best: tuple[float | None, str | None] = (None, None)
        for rule in rules:
            value = getattr(rule.limits, field)
            if value is not None and (best[0] is None or value < best[0]):
                best = (value, rule.id)
        if best[0] is not None:
            reasons.append(f"{field} {best[0]:g}: rule {best[1]}")
        return best

    params, params_rule = tightest("max_model_params_b")
    bits = next((r.limits.max_model_quantization_bits for r in rules if r.id == params_rule), None)
    tp, _ = tightest("max_tensor_parallel")
    if facts.gpu_count and (tp is None or facts.gpu_count < tp):
        tp = facts.gpu_count
        reasons.append(f"max_tensor_parallel {tp}: {facts.gpu_count} GPU(s) to split across")
    concurrent, _ = tightest("max_concurrent_models")
    vram_util, _ = tightest("vram_utilization_max")
    ram_util, _ = tightest("ram_utilization_max")

    allowed: set[str] | None = None
    for rule in rules:
        if rule.limits.allowed_runtimes is not None:
            given = set(rule.limits.allowed_runtimes)
            allowed = given if allowed is None else allowed & given
            reasons.append(f"allowed runtimes limited by rule {rule.id}")
    denied = sorted({rt for r in rules for rt in r.limits.denied_runtimes})
    for rule in rules:
        if rule.limits.denied_runtimes:
            reasons.append(f"denied {', '.join(rule.limits.denied_runtimes)}: rule {rule.id}")
    if allowed is not None:
        allowed -= set(denied)
    denied_modes = sorted({m for r in rules for m in r.limits.denied_modes})
    for rule in rules:
        if rule.limits.denied_modes:
            reasons.append(f"denied mode {', '.join(rule.limits.denied_modes)}: rule {rule.id}")
    limits = Limits(
        max_model_params_b=params,
        max_model_quantization_bits=bits,
        allowed_runtimes=tuple(sorted(allowed)) if allowed is not None else None,
        denied_runtimes=tuple(denied),
        denied_modes=tuple(denied_modes),
        max_tensor_parallel=int(tp) if tp is not None else None,
        max_concurrent_models=int(concurrent) if concurrent is not None else None,
        vram_utilization_max=vram_util,
        ram_utilization_max=ram_util,
    )
    return limits, tuple(reasons)


def evaluate(tiers: TierSet, policies: Sequence[CapabilityPolicy], facts: Facts) -> Capability:
    tier, verdicts = classify(tiers, facts)
    rules = [r for p in policies for r in p.rules if _rule_matches(r, tier, facts)]
    limits, reasons = merge(rules, facts)
    return Capability(
        tier=tier.id,
        rank=tier.rank,
        title=tier.title,
        limits=limits,
        rules=tuple(r.id for r in rules),
        # why this tier, and why none above it
        explanation=tuple(v.sentence() for v in verdicts if v.rank >= tier.rank),
        reasons=reasons,
        notes=facts.notes,
    )

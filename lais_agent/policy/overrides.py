"""User overrides: explicit, recorded, reversible changes to the evaluated capability.

Shipped and admin policy files are never edited. An override is a record in the
agent's state with who, when and why; it applies after the rules have merged
(it may relax a limit, which a rule cannot: rules only ever restrict), and
reverting it is another record, so the history is complete.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lais_agent.policy.engine import Capability

OVERRIDABLE_NUMBERS = (
    "max_model_params_b",
    "max_model_quantization_bits",
    "max_tensor_parallel",
    "max_concurrent_models",
    "vram_utilization_max",
    "ram_utilization_max",
)


@dataclass(frozen=True)
class Override:
    id: str  # "ovr-1", "ovr-2", ... never reused
    created_at: str  # ISO 8601 UTC
    uid: int
    user: str
    reason: str
    limits: dict[str, float]  # name in OVERRIDABLE_NUMBERS -> value
    allow_runtimes: tuple[str, ...] = ()  # allowed even if a rule denies them
    deny_runtimes: tuple[str, ...] = ()
    reverted_at: str | None = None
    reverted_by: str | None = None
    revert_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.reverted_at is None

    def summary(self) -> str:
        parts = [f"{k}={v:g}" for k, v in sorted(self.limits.items())]
        parts += [f"allow {r}" for r in self.allow_runtimes]
        parts += [f"deny {r}" for r in self.deny_runtimes]
        return ", ".join(parts)


def apply(capability: Capability, overrides: Sequence[Override]) -> Capability:
    """The capability with every active override applied in order."""
    active = [o for o in overrides if o.active]
    if not active:
        return capability
    limits = capability.limits
    reasons = list(capability.reasons)
    for ovr in active:
        changes: dict[str, Any] = dict(ovr.limits)
        for key in ("max_model_quantization_bits", "max_tensor_parallel", "max_concurrent_models"):
            if key in changes:
                changes[key] = int(ovr.limits[key])
        denied = [r for r in limits.denied_runtimes if r not in ovr.allow_runtimes]
        denied = sorted({*denied, *ovr.deny_runtimes})
        allowed = limits.allowed_runtimes
        if allowed is not None:
            allowed = tuple(sorted(({*allowed, *ovr.allow_runtimes}) - set(denied)))
        limits = dataclasses.replace(
            limits,
            **changes,
            allowed_runtimes=allowed,
            denied_runtimes=tuple(denied),
        )
        reasons.append(
            f"override {ovr.id} by {ovr.user} at {ovr.created_at}: {ovr.summary()} ({ovr.reason})"
        )
    return dataclasses.replace(capability, limits=limits, reasons=tuple(reasons))


def validate_request(
    limits: dict[str, float], allow: Sequence[str], deny: Sequence[str], reason: str
) -> list[str]:
    """Problems with an override request, in words (empty: fine)."""
    problems = []
    if not reason.strip():
        problems.append("a reason is required (it is recorded with the override)")
    if not limits and not allow and not deny:
        problems.append("nothing to override: give a limit, --allow-runtime or --deny-runtime")
    for key, value in limits.items():
        if key not in OVERRIDABLE_NUMBERS:
            problems.append(
                f"{key} cannot be overridden; use one of {', '.join(OVERRIDABLE_NUMBERS)}"
            )
        elif value <= 0 or (key.endswith("_max") and value > 1):
            problems.append(f"{key}={value:g} is out of range")
    both = set(allow) & set(deny)
    if both:
        problems.append(f"runtimes both allowed and denied: {', '.join(sorted(both))}")
    return problems

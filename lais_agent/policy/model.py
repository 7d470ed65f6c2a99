"""The policy file format (apiVersion localaistack.org/v1), as typed models.

Two kinds of document:

- ``TierSet``: the ordered tiers. A machine is in the highest-ranked tier whose
  conditions all hold. Conditions are minimums only, and the lowest tier has
  none, so every machine is in exactly one tier and more hardware never lowers it.
- ``CapabilityPolicy``: rules that set limits for machines matching them. All
  matching rules merge: the most restrictive number wins, allowed runtime lists
  intersect, and a deny beats an allow.

docs/policy.schema.json is generated from these models (tests keep it current).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

API_VERSION = "localaistack.org/v1"
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
RuntimeName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.+-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HardwareMinimums(_Strict):
    """Every condition is a minimum the machine must reach (all must hold)."""

    gpu_count: int | None = Field(None, ge=0, description="accelerators (driver bound, VRAM known)")
    vram_per_gpu_gib: float | None = Field(None, ge=0, description="largest single GPU's VRAM")
    vram_total_gib: float | None = Field(None, ge=0, description="sum of all accelerators' VRAM")
    ram_gib: float | None = Field(None, ge=0, description="system memory")
    nvlink: bool | None = Field(None, description="true: GPUs must be linked by NVLink")
    cpu_features: tuple[str, ...] = Field((), description="ISA extensions that must be present")

    def is_empty(self) -> bool:
        return self == HardwareMinimums()


class Tier(_Strict):
    id: Identifier
    rank: int = Field(ge=0, description="0 is the lowest; higher ranks need more hardware")
    title: str
    requires: HardwareMinimums = HardwareMinimums()


class TierSet(_Strict):
    apiVersion: Literal["localaistack.org/v1"]
    kind: Literal["TierSet"]
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _well_formed(self) -> TierSet:
        ranks = [t.rank for t in self.tiers]
        if len(set(ranks)) != len(ranks):
            raise ValueError("two tiers share a rank; every rank must be unique")
        ids = [t.id for t in self.tiers]
        if len(set(ids)) != len(ids):
            raise ValueError("two tiers share an id")
        lowest = min(self.tiers, key=lambda t: t.rank)
        if not lowest.requires.is_empty():
            raise ValueError(
                f"the lowest tier ({lowest.id}) must have no requirements, "
                "or some machines would be in no tier"
            )
        return self


class Limits(_Strict):
    max_model_params_b: float | None = Field(None, gt=0, description="billions of parameters")
    max_model_quantization_bits: int | None = Field(
        None, ge=2, le=32, description="bits per weight the size assumes"
    )
    allowed_runtimes: tuple[RuntimeName, ...] | None = Field(
        None, description="only these runtimes (lists from several rules intersect)"
    )
    denied_runtimes: tuple[RuntimeName, ...] = Field((), description="never these (beats allows)")
    denied_modes: tuple[Literal["native", "apt", "container", "venv"], ...] = Field(
        (), description="execution modes modules may not use here (lists add up)"
    )
    max_tensor_parallel: int | None = Field(None, ge=1)
    max_concurrent_models: int | None = Field(None, ge=1)
    vram_utilization_max: float | None = Field(None, gt=0, le=1)
    ram_utilization_max: float | None = Field(None, gt=0, le=1)


class Match(_Strict):
    """Which machines a rule applies to: all given conditions must hold."""

    tiers: tuple[Identifier, ...] | None = Field(None, description="any of these tiers")
    min_rank: int | None = Field(None, ge=0)
    max_rank: int | None = Field(None, ge=0)
    gpu_vendors: tuple[Literal["nvidia", "amd", "intel", "other"], ...] | None = None


class Rule(_Strict):
    id: Identifier
    description: str = ""
    match: Match = Match()
    limits: Limits


class CapabilityPolicy(_Strict):
    apiVersion: Literal["localaistack.org/v1"]
    kind: Literal["CapabilityPolicy"]
    rules: tuple[Rule, ...] = Field(min_length=1)


PolicyDocument = Annotated[TierSet | CapabilityPolicy, Field(discriminator="kind")]

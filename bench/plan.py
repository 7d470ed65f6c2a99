"""The plan of a run: how many calls, rounds and starts, and how quiet to wait for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """How much to measure; --quick shrinks everything for a smoke run."""

    rounds: int = 3
    warmup: int = 200
    latency_calls: int = 2000
    inflight: int = 50
    throughput_s: float = 5.0
    cli_runs: int = 20
    breakdown_runs: int = 10
    starts: int = 10
    hammer_calls: int = 50_000
    profile_calls: int = 20_000
    gc_rounds: int = 1
    instr_calls: int = 2000
    quiet_cores: float = 0.3
    quiet_wait_s: float = 120.0

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            rounds=1,
            warmup=50,
            latency_calls=300,
            throughput_s=1.0,
            cli_runs=5,
            breakdown_runs=3,
            starts=3,
            hammer_calls=5_000,
            profile_calls=3_000,
            instr_calls=300,
            quiet_wait_s=10.0,
        )

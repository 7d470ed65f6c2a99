"""Rounds: the order in which the two sides take turns, and medians across the rounds."""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bench.sides import Side


def alternate(sides: Sequence[Side], rounds: int) -> Iterator[tuple[int, Side]]:
    """A-B, B-A, A-B, ...: neither side always goes first."""
    for r in range(rounds):
        for side in sides if r % 2 == 0 else reversed(sides):
            yield r, side


def median_of(cells: Sequence[Mapping[str, Any]], key: str) -> float:
    return float(statistics.median(c[key] for c in cells))

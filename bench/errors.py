"""The benchmark's one exception: a measurement that could not be made as planned."""

from __future__ import annotations


class BenchError(RuntimeError):
    pass

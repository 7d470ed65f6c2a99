"""Catalog benchmark: load 1,000 manifests (target ≤ 0.2 s).

    python bench/catalog_load.py [--count 1000] [--runs 5]

Makes ``count`` manifests from the shipped ones (renamed copies, so every file is
parsed and validated for real) in a temporary directory, then times
``load_catalog`` in a fresh process per run (imports included once, reported
apart) and prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from lais_agent.catalog.registry import load_catalog
t1 = time.perf_counter()
cache = Path(sys.argv[3]) if sys.argv[3] != "-" else None
catalog = load_catalog(Path(sys.argv[1]), Path("/nonexistent"), cache=cache)
t2 = time.perf_counter()
assert len(catalog.modules) == int(sys.argv[2]), len(catalog.modules)
print(f"{t1 - t0:.4f} {t2 - t1:.4f}")
"""


def make_catalog(directory: Path, count: int) -> None:
    shipped = sorted((REPO / "catalog").glob("*.yaml"))
    for i in range(count):
        source = shipped[i % len(shipped)]
        name = source.stem
        text = source.read_text().replace(f"name: {name}\n", f"name: {name}-{i}\n", 1)
        (directory / f"{name}-{i}.yaml").write_text(text)


def run_child(catalog: Path, count: int, cache: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(catalog), str(count), cache],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(
        "| case | manifests | runs | import (s) | load, median (s) | min | max "
        "| per manifest (ms) | target | verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="lais-catalog-bench-") as tmp:
        catalog = Path(tmp) / "catalog"
        catalog.mkdir()
        make_catalog(catalog, args.count)
        cache = Path(tmp) / "cache.json"
        cases = (
            ("cold: parse YAML + validate", "-"),
            ("warm: parse cache, files unchanged", str(cache)),
        )
        for case, cache_arg in cases:
            if cache_arg != "-":
                run_child(catalog, args.count, cache_arg)  # fill the cache once
            imports, loads = [], []
            for _ in range(args.runs):
                imported, loaded = run_child(catalog, args.count, cache_arg)
                imports.append(imported)
                loads.append(loaded)
            load = statistics.median(loads)
            verdict = "met" if load <= 0.2 else f"missed by {(load - 0.2) / 0.2 * 100:.0f}%"
            print(
                f"| {case} | {args.count} | {args.runs} | {statistics.median(imports):.3f} "
                f"| {load:.3f} | {min(loads):.3f} | {max(loads):.3f} "
                f"| {load / args.count * 1000:.3f} | ≤ 0.2 s | {verdict} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""docs/benchmarks.md says what its published benchmark summary says.

The page's results section sits between the markers that ``bench/report.py`` writes;
each marker names a committed ``bench/published/<run>.json``. Rendering that summary
again must give the page's text exactly, so a table cannot be edited by hand, or its
data replaced, without the other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench import report
from bench.summary import dumps

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "benchmarks.md"
MARKER = re.compile(r"<!-- generated: python bench/report.py (bench/published/\S+\.json) -->")


def _sections(text: str) -> list[tuple[str, str]]:
    """(published path, the page's text from its marker to the end marker)."""
    out = []
    for match in MARKER.finditer(text):
        end = text.index(report.END, match.start()) + len(report.END)
        out.append((match.group(1), text[match.start() : end]))
    return out


def _tables(text: str) -> list[str]:
    blocks: list[list[str]] = []
    previous_was_row = False
    for line in text.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous_was_row:
            blocks.append([])
        if is_row:
            blocks[-1].append(line)
        previous_was_row = is_row
    return ["\n".join(b) for b in blocks]


def test_page_sections_are_their_summaries_rendered() -> None:
    text = PAGE.read_text()
    sections = _sections(text)
    assert sections, "docs/benchmarks.md has no generated results section"
    for path, on_page in sections:
        summary = report.load(REPO / path)
        assert report.published_path(summary) == path
        assert on_page == report.section(summary), (
            f"docs/benchmarks.md differs from {path}; regenerate it with "
            f"`python bench/report.py {path}`"
        )


def test_every_table_names_its_run() -> None:
    for path, on_page in _sections(PAGE.read_text()):
        tables = _tables(on_page)
        assert len(tables) >= 5
        lines = on_page.splitlines()
        for table in tables:
            start = lines.index(table.splitlines()[0])
            caption = next(line for line in reversed(lines[:start]) if line.strip())
            assert f"`{path}`" in caption, f"table without its run: {table.splitlines()[0]}"


def test_published_files_are_compact_and_canonical() -> None:
    """Committed summaries are what ``dumps`` writes (one row a line) and stay small."""
    for path in sorted((REPO / "bench" / "published").glob("*.json")):
        text = path.read_text()
        assert len(text) < 40_000, f"{path.name} is not a summary"
        assert text == dumps(json.loads(text)) + "\n", f"{path.name} is not canonical"


def test_ratios_are_the_numbers_divided() -> None:
    for path, _ in _sections(PAGE.read_text()):
        summary = report.load(REPO / path)
        for row in report._rows(summary["headline"]):
            assert row["ratio"] == round(row["measured"] / row["floor"], 2)
        calls = summary["calls"]
        a, f = calls["median"]["agent"], calls["median"]["floor"]
        assert calls["ratio_of_medians"]["p99_us"] == round(a["p99_us"] / f["p99_us"], 2)

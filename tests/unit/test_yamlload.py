"""The fast YAML path gives exactly what PyYAML's safe loader gives."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lais_agent import yamlload

REPO = Path(__file__).resolve().parents[2]


def pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=yamlload.LOADER)


@pytest.mark.parametrize(
    "path", sorted([*(REPO / "catalog").glob("*.yaml"), *(REPO / "policies").glob("*.yaml")])
)
def test_every_shipped_document(path: Path) -> None:
    text = path.read_text()
    assert yamlload.load(text) == pyyaml(text)


TRICKY = [
    "",
    "# only a comment\n",
    "a:\n",
    "a: ~\nb: null\nc: Null\n",
    "yes: no\non: off\ny: n\n",  # YAML 1.1 booleans (keys too)
    "a: 017\nb: 0x1f\nc: 1_000\nd: 1:30\ne: -.inf\n",
    "when: 2024-01-02\nat: 2024-01-02 03:04:05\n",
    "a: '1'\nb: \"true\"\nc: |\n  text\nd: >\n  folded\n",
    "a: &x [1, 2]\nb: *x\n",  # anchors and aliases
    "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",  # merge keys
    "a: !!str 1\nb: !!float 2\n",  # explicit tags
    "a: 1\na: 2\n",  # a repeated key keeps the last value
    "[1, {a: [], b: {}}, '', -, '-']\n",
    "plain scalar\n",
    "--- 1\n...\n",
    "=: 1\nb: {=: 2}\n",  # the value tag: a string only as a key
    "? =\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_documents(text: str) -> None:
    assert yamlload.load(text) == pyyaml(text)


def test_nan_and_timestamps_have_pyyaml_types() -> None:
    data = yamlload.load("f: .NaN\nwhen: 2024-01-02\n")
    assert data["f"] != data["f"]
    assert data["when"] == datetime.date(2024, 1, 2)


@pytest.mark.parametrize(
    "text",
    [
        "a: [1\n",
        "a: b: c\n",
        "--- 1\n--- 2\n",
        "a: *nope\n",
        "? [1, 2]\n: unhashable key\n",
        "a: 2001-13-45\nb: [\n",  # PyYAML reports the syntax error, not the date
        "a: 2001-13-45\n---\nb: 1\n",
        "- =\n",  # the value tag as a value: PyYAML has no constructor for it
    ],
)
def test_errors_are_pyyamls(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as expected:
        pyyaml(text)
    with pytest.raises(type(expected.value)):
        yamlload.load(text)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.sampled_from(["yes", "No", "on", "~", "0x10", "010", "1e3", "1:20", "2024-01-01", ".inf"]),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=DATA, flow=st.sampled_from([None, True, False]))
def test_generated_documents(data: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    assert yamlload.load(text) == pyyaml(text)

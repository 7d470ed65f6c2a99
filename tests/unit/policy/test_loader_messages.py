"""Policy loading refusals: the exact message, the files it names and the hint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lais_agent.errors import InvalidConfig
from lais_agent.policy.loader import load_policies

SHIPPED = Path(__file__).resolve().parents[3] / "policies"
TIERS_HINT = (
    "replace the shipped 00-tiers.yaml by a file of the same name in "
    "/etc/localaistack/policies.d/ instead of adding another"
)


def test_two_tiersets_are_both_named_with_the_hint(tmp_path: Path) -> None:
    admin = tmp_path / "policies.d"
    admin.mkdir()
    shutil.copy(SHIPPED / "00-tiers.yaml", admin / "90-more.yaml")
    with pytest.raises(InvalidConfig) as caught:
        load_policies(SHIPPED, admin)
    assert caught.value.message == (
        "exactly one TierSet document is needed among the policy files; found "
        f"{SHIPPED / '00-tiers.yaml'}, {admin / '90-more.yaml'}"
    )
    assert caught.value.hint == TIERS_HINT


def test_no_tierset_is_found_none(tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(SHIPPED / "10-capabilities.yaml", shipped)
    with pytest.raises(InvalidConfig) as caught:
        load_policies(shipped, tmp_path / "absent")
    assert caught.value.message == (
        "exactly one TierSet document is needed among the policy files; found none"
    )
    assert caught.value.hint == TIERS_HINT


def test_a_malformed_policy_file_points_at_the_format_docs(tmp_path: Path) -> None:
    admin = tmp_path / "policies.d"
    admin.mkdir()
    (admin / "50-site.yaml").write_text("rules:\n  - id: [unclosed\n")
    with pytest.raises(InvalidConfig) as caught:
        load_policies(SHIPPED, admin)
    assert caught.value.hint == "see docs/policies.md for the format"


def test_policy_files_are_utf8_whatever_the_default_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def latin1_default(encoding: str | None, stacklevel: int = 2) -> str:
        return encoding if encoding is not None else "latin-1"

    monkeypatch.setattr("io.text_encoding", latin1_default)  # what Path.read_text asks
    admin = tmp_path / "policies.d"
    admin.mkdir()
    text = (SHIPPED / "00-tiers.yaml").read_text(encoding="utf-8")
    text = text.replace("title: CPU only (small models on the CPU)", "title: CPU — Größe")
    (admin / "00-tiers.yaml").write_bytes(text.encode())
    tiers = load_policies(SHIPPED, admin).tiers.tiers
    assert [t.title for t in tiers if t.id == "tier0-cpu"] == ["CPU — Größe"]

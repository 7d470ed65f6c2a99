"""Policy files: errors name file, line and field; admin files replace by name."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from lais_agent.errors import InvalidConfig
from lais_agent.policy.loader import load_policies
from lais_agent.policy.model import PolicyDocument

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "policies"


def _admin(tmp_path: Path, name: str, text: str) -> Path:
    admin = tmp_path / "policies.d"
    admin.mkdir(exist_ok=True)
    (admin / name).write_text(text)
    return admin


def test_shipped_policies_validate() -> None:
    loaded = load_policies(SHIPPED, SHIPPED / "absent")
    assert [t.id for t in loaded.tiers.tiers] == [
        "tier0-cpu",
        "tier1-entry",
        "tier2-midrange",
        "tier3-highend",
    ]
    assert loaded.policies


def test_wrong_field_names_file_line_and_field(tmp_path: Path) -> None:
    admin = _admin(
        tmp_path,
        "50-site.yaml",
        """\
apiVersion: localaistack.org/v1
kind: CapabilityPolicy
rules:
  - id: site
    limits:
      max_model_params_b: 30
      max_concurent_models: 2
""",
    )
    with pytest.raises(InvalidConfig) as info:
        load_policies(SHIPPED, admin)
    message = str(info.value)
    assert message.startswith(f"{admin / '50-site.yaml'}:7: rules.0.limits.max_concurent_models")
    assert "Extra inputs are not permitted" in message


def test_bad_value_is_located(tmp_path: Path) -> None:
    admin = _admin(
        tmp_path,
        "50-site.yaml",
        """\
apiVersion: localaistack.org/v1
kind: CapabilityPolicy
rules:
  - id: site
    limits:
      vram_utilization_max: 1.5
""",
    )
    with pytest.raises(InvalidConfig, match=r"50-site.yaml:6: rules.0.limits.vram_utilization_max"):
        load_policies(SHIPPED, admin)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    admin = _admin(tmp_path, "50-site.yaml", "rules:\n  - id: [unclosed\n")
    with pytest.raises(InvalidConfig, match=r"50-site.yaml:3: not valid YAML"):
        load_policies(SHIPPED, admin)


def test_a_gap_making_lowest_tier_is_refused(tmp_path: Path) -> None:
    admin = _admin(
        tmp_path,
        "00-tiers.yaml",
        """\
apiVersion: localaistack.org/v1
kind: TierSet
tiers:
  - id: gpu-only
    rank: 0
    title: x
    requires: {gpu_count: 1}
""",
    )
    with pytest.raises(InvalidConfig, match="must have no requirements"):
        load_policies(SHIPPED, admin)


def test_admin_file_of_the_same_name_replaces_the_shipped_one(tmp_path: Path) -> None:
    admin = tmp_path / "policies.d"
    admin.mkdir()
    text = (
        (SHIPPED / "00-tiers.yaml")
        .read_text()
        .replace("vram_per_gpu_gib: 20", "vram_per_gpu_gib: 22")
    )
    (admin / "00-tiers.yaml").write_text(text)
    loaded = load_policies(SHIPPED, admin)
    tier2 = next(t for t in loaded.tiers.tiers if t.id == "tier2-midrange")
    assert tier2.requires.vram_per_gpu_gib == 22
    assert str(admin / "00-tiers.yaml") in loaded.sources


def test_a_second_tierset_is_refused(tmp_path: Path) -> None:
    admin = _admin(tmp_path, "90-more.yaml", (SHIPPED / "00-tiers.yaml").read_text())
    with pytest.raises(InvalidConfig, match="exactly one TierSet"):
        load_policies(SHIPPED, admin)


def test_rules_must_name_known_tiers(tmp_path: Path) -> None:
    admin = _admin(
        tmp_path,
        "50-site.yaml",
        """\
apiVersion: localaistack.org/v1
kind: CapabilityPolicy
rules:
  - id: site
    match: {tiers: [tier9-imaginary]}
    limits: {max_concurrent_models: 1}
""",
    )
    with pytest.raises(InvalidConfig, match="tier9-imaginary"):
        load_policies(SHIPPED, admin)


def test_published_json_schema_is_current() -> None:
    schema = TypeAdapter(PolicyDocument).json_schema()
    path = REPO / "docs/policy.schema.json"
    text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    if os.environ.get("LAIS_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.read_text() == text, "run LAIS_UPDATE_GOLDEN=1 pytest tests/unit/policy"


def test_copied_shipped_tree_loads(tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    shutil.copytree(SHIPPED, shipped)
    assert load_policies(shipped, tmp_path / "none").tiers.tiers

"""What ListModules says is installable is exactly what PlanInstall can plan."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lais_agent.catalog.planning import PlanOptions, plan_install
from lais_agent.catalog.registry import load_catalog
from lais_agent.control.modules import _summaries, host_of
from lais_agent.errors import LaisError
from lais_agent.policy.engine import evaluate
from lais_agent.policy.facts import facts_from
from tests.unit.hardware.test_detect_fixtures import NAMES, probe
from tests.unit.policy.test_engine import SHIPPED

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "catalog", REPO / "none")


@pytest.mark.parametrize("fixture", NAMES)
def test_installable_means_a_plan_exists(fixture: str) -> None:
    profile = probe(fixture)
    facts = facts_from(profile)
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts)
    for summary in _summaries(CATALOG, profile, cap):
        try:
            plan = plan_install(
                CATALOG.modules,
                [summary.name],
                PlanOptions(),
                capability=cap,
                facts=facts,
                host=host_of(profile),
                disk_free_bytes=None,
            )
            planned = plan.steps[-1].version
        except LaisError:
            planned = None
        assert planned == summary.best_version, (summary.name, summary.reasons)


def test_a_dependency_that_cannot_be_installed_makes_the_module_not_installable() -> None:
    # Debian 13 whose /usr/bin/python3 was made a 3.12 by hand: aider's venv would take it,
    # but the python module it needs (<3.13) has only 3.13 for debian-13
    recorded = probe("arc-a770")
    profile = dataclasses.replace(recorded, os=dataclasses.replace(recorded.os, python="3.12"))
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(profile))
    aider = next(s for s in _summaries(CATALOG, profile, cap) if s.name == "aider")
    assert not aider.installable
    assert aider.reasons[0].startswith(
        "0.86.2: no version of python that satisfies <3.13,>=3.10 (aider 0.86.2 needs it) "
        "can be installed here (3.12: apt: no packages listed for debian-13"
    )

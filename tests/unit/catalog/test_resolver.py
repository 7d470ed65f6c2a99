"""The dependency resolver: plans respect every constraint; conflicts and cycles are
reported with their chain; when it says impossible, brute force agrees."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from lais_agent.catalog.manifest import Manifest
from lais_agent.catalog.registry import load_catalog
from lais_agent.catalog.resolver import ResolutionError, resolve
from lais_agent.errors import NotFound

REPO = Path(__file__).resolve().parents[3]


def module(name: str, versions: dict[str, list[str]]) -> Manifest:
    return Manifest.model_validate(
        {
            "apiVersion": "localaistack.org/v1",
            "kind": "Module",
            "metadata": {
                "name": name,
                "category": "tool",
                "title": name,
                "description": "x",
                "homepage": "https://example.org",
                "license": "MIT",
            },
            "versions": [
                {
                    "version": v,
                    "needs": {"modules": deps},
                    "modes": {
                        "apt": {"packages": {"debian-12": [f"pkg-{name}"]}},
                        "prefer": ["apt"],
                    },
                }
                for v, deps in versions.items()
            ],
        }
    )


def catalog_of(*mods: Manifest) -> dict[str, Manifest]:
    return {m.metadata.name: m for m in mods}


def test_shipped_catalog_resolves_every_module() -> None:
    shipped = load_catalog(REPO / "catalog", REPO / "none").modules
    for name in shipped:
        plan = resolve(shipped, [name])
        assert plan.steps[-1].module == name


def test_newest_compatible_version_and_order() -> None:
    cat = catalog_of(
        module("app", {"2.0": ["lib>=1.5"], "1.0": ["lib"]}),
        module("lib", {"1.0": [], "1.6": [], "2.0": []}),
    )
    plan = resolve(cat, ["app"])
    assert [(s.module, s.version) for s in plan.steps] == [("lib", "2.0"), ("app", "2.0")]
    assert plan.steps[0].requested_by == ("app 2.0",)
    assert resolve(cat, ["app", "lib<2"]).version_of("lib") == "1.6"


def test_conflict_names_both_sides() -> None:
    cat = catalog_of(
        module("a", {"1.0": ["py>=3.10"]}),
        module("b", {"1.0": ["py<3.10"]}),
        module("py", {"3.9": [], "3.11": []}),
    )
    with pytest.raises(ResolutionError) as info:
        resolve(cat, ["a", "b"])
    text = str(info.value)
    assert "no version of py satisfies" in text
    assert "(a 1.0 needs it)" in text
    assert "(b 1.0 needs it)" in text


def test_backtracks_to_an_older_version() -> None:
    cat = catalog_of(
        module("app", {"2.0": ["lib>=2"], "1.0": ["lib<2"]}),
        module("lib", {"1.0": []}),
    )
    assert resolve(cat, ["app"]).version_of("app") == "1.0"


def test_cycle_is_reported_with_its_chain() -> None:
    cat = catalog_of(module("a", {"1.0": ["b"]}), module("b", {"2.0": ["a"]}))
    with pytest.raises(ResolutionError, match=r"dependency cycle: a 1.0 -> b 2.0 -> a"):
        resolve(cat, ["a"])


def test_unknown_module_is_not_found() -> None:
    with pytest.raises(NotFound, match="no module named 'ghost'"):
        resolve(catalog_of(module("a", {"1.0": ["ghost"]})), ["a"])


# ------------------------------------------------------------------ properties ----
NAMES = ["m0", "m1", "m2", "m3", "m4"]
VERSIONS = ["1.0", "2.0", "3.0"]


@st.composite
def catalogs(draw: st.DrawFn) -> dict[str, Manifest]:
    mods = []
    for i, name in enumerate(NAMES):
        versions = draw(st.lists(st.sampled_from(VERSIONS), min_size=1, max_size=3, unique=True))
        spec = {}
        for v in versions:
            later = NAMES[i + 1 :]  # dependencies only on later names: no cycles here
            deps = draw(st.lists(st.sampled_from(later), max_size=2, unique=True)) if later else []
            spec[v] = [
                f"{d}{draw(st.sampled_from(['', '>=2', '<3', '==1.0', '>=3']))}" for d in deps
            ]
        mods.append(module(name, spec))
    return catalog_of(*mods)


def _satisfies(cat: dict[str, Manifest], choice: dict[str, str], requests: list[str]) -> bool:
    for text in requests:
        req = Requirement(text)
        if req.name not in choice or Version(choice[req.name]) not in req.specifier:
            return False
    for name, version in choice.items():
        ver = next(v for v in cat[name].versions if v.version == version)
        for text in ver.needs.modules:
            req = Requirement(text)
            if req.name not in choice or Version(choice[req.name]) not in req.specifier:
                return False
    return True


def _brute_force_possible(cat: dict[str, Manifest], requests: list[str]) -> bool:
    options = [[None, *[v.version for v in cat[n].versions]] for n in NAMES]
    for combo in itertools.product(*options):
        choice = {n: v for n, v in zip(NAMES, combo, strict=True) if v is not None}
        if _satisfies(cat, choice, requests):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(catalogs(), st.lists(st.sampled_from(["m0", "m1", "m2>=2", "m3<3"]), min_size=1, max_size=3))
def test_every_plan_respects_every_constraint(
    cat: dict[str, Manifest], requests: list[str]
) -> None:
    try:
        plan = resolve(cat, requests)
    except ResolutionError:
        assert not _brute_force_possible(cat, requests), "resolver gave up on a solvable request"
        return
    choice = {s.module: s.version for s in plan.steps}
    assert len(choice) == len(plan.steps)  # each module once
    assert _satisfies(cat, choice, requests)
    position = {s.module: i for i, s in enumerate(plan.steps)}
    for step in plan.steps:  # dependencies come first
        ver = next(v for v in cat[step.module].versions if v.version == step.version)
        for text in ver.needs.modules:
            assert position[Requirement(text).name] < position[step.module]


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 5), st.integers(0, 4))
def test_every_cycle_is_detected(length: int, entry: int) -> None:
    names = NAMES[:length]
    mods = [module(n, {"1.0": [names[(i + 1) % length]]}) for i, n in enumerate(names)]
    with pytest.raises(ResolutionError, match="dependency cycle"):
        resolve(catalog_of(*mods), [names[entry % length]])


def test_judge_keeps_uninstallable_versions_out_and_says_why() -> None:
    cat = catalog_of(
        module("app", {"1.0": ["py>=3.10"]}),
        module("py", {"3.13": [], "3.11": [], "3.9": []}),
    )

    def only_311(manifest: Manifest, version) -> list[str]:  # type: ignore[no-untyped-def]
        if manifest.metadata.name == "py" and version.version != "3.11":
            return [f"apt: no packages for this release ({version.version})"]
        return []

    assert resolve(cat, ["app"], only_311).version_of("py") == "3.11"

    def none_ok(manifest: Manifest, version) -> list[str]:  # type: ignore[no-untyped-def]
        return ["needs a GPU"] if manifest.metadata.name == "py" else []

    with pytest.raises(ResolutionError) as info:
        resolve(cat, ["app"], none_ok)
    assert "no version of py that satisfies >=3.10 (app 1.0 needs it) can be installed here" in str(
        info.value
    )
    assert "3.13: needs a GPU" in str(info.value)


def test_shipped_catalog_on_debian_12_picks_the_release_python() -> None:
    from lais_agent.catalog.installable import Host, judge
    from lais_agent.policy.engine import evaluate
    from lais_agent.policy.facts import facts_from
    from tests.unit.hardware.test_detect_fixtures import probe
    from tests.unit.policy.test_engine import SHIPPED

    shipped = load_catalog(REPO / "catalog", REPO / "none").modules
    profile = probe("a100x2-nvlink")  # Debian 12
    facts = facts_from(profile)
    cap = evaluate(SHIPPED.tiers, SHIPPED.policies, facts)
    host = Host.from_profile(profile)  # its python3: 3.11
    plan = resolve(shipped, ["aider"], lambda m, v: judge(m, v, cap, facts, host).reasons)
    assert plan.version_of("python") == "3.11"


def test_a_search_that_explodes_gives_up_with_a_clear_error() -> None:
    # 16 modules with 4 versions each, and a last request nobody can satisfy: without a
    # budget the solver would try 4**16 combinations before saying no
    mods = [module(f"m{i}", {f"{v}.0": [] for v in range(1, 5)}) for i in range(16)]
    cat = catalog_of(*mods, module("last", {"1.0": ["m0<1"]}))
    with pytest.raises(ResolutionError) as info:
        resolve(cat, [*(f"m{i}" for i in range(16)), "last"])
    assert "gave up after trying 20,000 combinations of versions" in str(info.value)
    assert info.value.hint == "name versions to narrow the search, e.g. 'vllm==0.7.2'"


def test_shipped_plans_stay_far_below_the_budget() -> None:
    from lais_agent.catalog import resolver

    shipped = load_catalog(REPO / "catalog", REPO / "none").modules
    solver = resolver._Solver(shipped, None)
    pending = [(n, resolver._Need(SpecifierSet(), "you")) for n in sorted(shipped)]
    assert solver.solve(pending, {}, {}) is not None
    assert solver.steps < 1_000  # all 31 modules at once: ~250

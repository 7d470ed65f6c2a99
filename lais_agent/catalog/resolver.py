"""Dependency resolution: requested modules -> a plan, newest compatible versions,
dependencies first. Pure: works on manifests, does nothing.

Conflicts and cycles are errors that show the chain causing them, e.g.
``no version of python satisfies >=3.10 (aider 0.86.2 needs it) and <3.10 (old-tool 1.0 needs it)``
or ``dependency cycle: a 1.0 -> b 2.0 -> a``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from lais_agent.catalog.manifest import Manifest, ModuleVersion
from lais_agent.errors import InvalidArgs, NotFound


class ResolutionError(InvalidArgs):
    """No plan satisfies every constraint; the message names the chain."""

    code = "unresolvable"


@dataclass(frozen=True)
class Step:
    module: str
    version: str
    requested_by: tuple[str, ...]  # "user" or "name version" of dependents


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]  # dependencies before dependents

    def version_of(self, module: str) -> str | None:
        return next((s.version for s in self.steps if s.module == module), None)


@dataclass(frozen=True)
class _Need:
    spec: SpecifierSet
    by: str  # who needs it


def _versions(manifest: Manifest) -> list[ModuleVersion]:
    return sorted(manifest.versions, key=lambda v: Version(v.version), reverse=True)


def _deps(version: ModuleVersion) -> list[Requirement]:
    return [Requirement(text) for text in version.needs.modules]


def _constraints(needs: Sequence[_Need]) -> str:
    return " and ".join(
        f"{n.spec or 'any version'} ({'you asked for it' if n.by == 'you' else n.by + ' needs it'})"
        for n in needs
    )


def _describe(name: str, needs: Sequence[_Need]) -> str:
    return f"no version of {name} satisfies {_constraints(needs)}"


# Why a version cannot be installed here (empty: it can). None: every version can.
Judge = Callable[[Manifest, ModuleVersion], Sequence[str]]


# Backtracking is exponential in the worst case; PlanInstall is open to any caller, so
# the search has a budget (every plan of the shipped catalog takes well under 100 steps).
MAX_STEPS = 20_000


class _Solver:
    def __init__(self, catalog: Mapping[str, Manifest], judge: Judge | None) -> None:
        self.catalog = catalog
        self.judge = judge
        self.failure: str | None = None
        self.steps = 0

    def solve(
        self,
        pending: list[tuple[str, _Need]],
        chosen: dict[str, ModuleVersion],
        needs: dict[str, list[_Need]],
    ) -> dict[str, ModuleVersion] | None:
        if not pending:
            return chosen
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ResolutionError(
                f"gave up after trying {MAX_STEPS:,} combinations of versions",
                hint="name versions to narrow the search, e.g. 'vllm==0.7.2'",
            )
        (name, need), rest = pending[0], pending[1:]
        manifest = self.catalog.get(name)
        if manifest is None:
            raise NotFound(f"no module named {name!r} in the catalog ({need.by} needs it)")
        all_needs = [*needs.get(name, []), need]
        if name in chosen:
            if Version(chosen[name].version) in need.spec:
                return self.solve(rest, chosen, {**needs, name: all_needs})
            self.failure = _describe(name, all_needs)
            return None
        matching = [
            v for v in _versions(manifest) if all(Version(v.version) in n.spec for n in all_needs)
        ]
        refused = {v.version: self.judge(manifest, v) for v in matching} if self.judge else {}
        candidates = [v for v in matching if not refused.get(v.version)]
        if not candidates:
            if matching:
                why = "; ".join(f"{ver}: {reasons[0]}" for ver, reasons in refused.items())
                if all(n.by == "you" and not n.spec for n in all_needs):
                    self.failure = f"no version of {name} can be installed here ({why})"
                else:
                    self.failure = (
                        f"no version of {name} that satisfies {_constraints(all_needs)} "
                        f"can be installed here ({why})"
                    )
            else:
                self.failure = _describe(name, all_needs)
            return None
        for candidate in candidates:  # newest first; backtrack on conflict
            by = f"{name} {candidate.version}"
            deps = [(r.name, _Need(r.specifier, by)) for r in _deps(candidate)]
            result = self.solve(
                [*rest, *deps], {**chosen, name: candidate}, {**needs, name: all_needs}
            )
            if result is not None:
                return result
        return None


def _order(chosen: Mapping[str, ModuleVersion], roots: Sequence[str]) -> list[str]:
    order: list[str] = []
    state: dict[str, str] = {}  # "visiting" | "done"

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            start = path.index(name)
            chain = " -> ".join([*(f"{n} {chosen[n].version}" for n in path[start:]), name])
            raise ResolutionError(f"dependency cycle: {chain}")
        state[name] = "visiting"
        for req in _deps(chosen[name]):
            visit(req.name, [*path, name])
        state[name] = "done"
        order.append(name)

    for root in roots:
        visit(root, [])
    return order


def resolve(
    catalog: Mapping[str, Manifest], requests: Sequence[str], judge: Judge | None = None
) -> Plan:
    """A plan installing ``requests`` (e.g. ``["vllm", "aider>=0.80"]``) and what they need;
    with ``judge``, only versions installable on this machine are considered."""
    wanted = []
    for text in requests:
        try:
            wanted.append(Requirement(text))
        except ValueError:
            raise InvalidArgs(f"{text!r} is not a module name with optional versions") from None
    solver = _Solver(catalog, judge)
    chosen = solver.solve([(r.name, _Need(r.specifier, "you")) for r in wanted], {}, {})
    if chosen is None:
        raise ResolutionError(solver.failure or "no combination of versions satisfies the request")
    names = _order(chosen, [r.name for r in wanted])
    dependents: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for req in _deps(chosen[name]):
            dependents[req.name].append(f"{name} {chosen[name].version}")
    for r in wanted:
        dependents[r.name].insert(0, "you")
    return Plan(tuple(Step(n, chosen[n].version, tuple(dependents[n])) for n in names))

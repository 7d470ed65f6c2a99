"""Mutation testing of the pure cores with mutmut, and the gate CI holds it to.

    python -m tests.gates.mutation full        # every mutant of the cores (make mutation)
    python -m tests.gates.mutation ci          # the CI-sized run (scripts/run-tests.sh)
    python -m tests.gates.mutation ci --all    # the CI judgement over every mutant

Why mutmut (3.x) and not cosmic-ray: mutmut forks one warm pytest per mutant and runs only the
tests that reach the mutated function (it records that once, under coverage), so a mutant
costs tens of milliseconds instead of a whole pytest start-up; its mutants are named by
function (``lais_agent.policy.facts.x_facts_from__mutmut_4``), so a judgement about one
survives edits elsewhere; and it never edits the checkout (it works in a copy), so a crash
leaves no mutated source behind. cosmic-ray rewrites the files in place and starts the test
command afresh for each mutant.

The run happens in a copy of the checkout (tracked and untracked-but-not-ignored files, links
kept) under ``$LAIS_MUTATION_DIR`` (default /var/tmp/lais-mutation), never in the checkout.

The CI-sized run mutates every function that is new or changed since the last full run
(``mutation-baseline.json`` holds each core function's source hash) plus a sample of the
others, drawn from the commit's tree hash so a rerun of one commit draws the same. It fails
when a mutant survives (or no unit test reaches it) unless ``mutation-survivors.yaml`` lists
it (``survivors/<core package>.yaml``): as ``equivalent`` (no test can kill it; the reason says
why) or as ``open`` (a known gap
from before the gate existed, to be killed; ``full --record-open`` lists them). An entry names
the function and the mutated lines as mutmut shows them, so it does not depend on mutmut's
mutant numbering; an edit to the line makes it a new survivor again.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASELINE = HERE / "mutation-baseline.json"
SURVIVORS = HERE / "survivors"  # one YAML list per core package: policy.yaml, ...
# The pure cores (issue 11): policy, catalog, hardware; renderers and fit join as they land.
CORES = (
    "lais_agent/policy",
    "lais_agent/catalog",
    "lais_agent/hardware",
    "lais_agent/units",
    "lais_agent/state",
)
SAMPLE_FRACTION = 0.15
# CPU seconds of mutant runs the sample may take (the full run records each function's cost);
# changed functions are always run, whatever they cost
SAMPLE_BUDGET_S = float(os.environ.get("LAIS_MUTATION_BUDGET", "240"))
STATUS = {
    0: "survived",
    1: "killed",
    3: "killed",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    37: "caught by type check",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
}
BAD = ("survived", "no tests")

SETUP_CFG = """\
[mutmut]
source_paths = lais_agent
only_mutate =
{only}
pytest_add_cli_args_test_selection = tests/unit
pytest_add_cli_args = -p no:cacheprovider -q
"""


def work_dir() -> Path:
    return Path(os.environ.get("LAIS_MUTATION_DIR", "/var/tmp/lais-mutation"))


# ---------------------------------------------------------------- functions and their hashes


def core_files(root: Path) -> list[Path]:
    return sorted(p for core in CORES for p in (root / core).rglob("*.py"))


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    return ".".join(rel.parts)


def functions(path: Path, root: Path) -> dict[str, str]:
    """mutmut's name for each function it mutates in ``path`` -> hash of its source."""
    text = path.read_text()
    tree = ast.parse(text)
    mod = module_name(path, root)
    found: dict[str, str] = {}

    def digest(node: ast.AST) -> str:
        segment = ast.get_source_segment(text, node) or ""
        return hashlib.sha256(segment.encode()).hexdigest()[:16]

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[f"{mod}.x_{node.name}"] = digest(node)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{mod}.x\u01c1{node.name}\u01c1{sub.name}"] = digest(sub)
    return found


def all_functions(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in core_files(root):
        found.update(functions(path, root))
    return found


def function_of(mutant: str) -> str:
    return re.sub(r"__mutmut_\d+$", "", mutant)


def select(
    current: dict[str, str],
    baseline: dict[str, str],
    seed: str,
    cost: dict[str, float] | None = None,
    budget: float = float("inf"),
) -> tuple[set[str], set[str]]:
    """(changed or new functions, sampled others) for the CI-sized run: a fraction of the
    unchanged functions, drawn by ``seed``, within ``budget`` seconds of recorded cost."""
    changed = {f for f, h in current.items() if baseline.get(f) != h}
    rest = sorted(set(current) - changed)
    random.Random(seed).shuffle(rest)  # a reproducible sample, not a secret
    k = max(1, round(len(rest) * SAMPLE_FRACTION)) if rest else 0
    cost = cost or {}
    sampled: set[str] = set()
    spent = 0.0
    for f in rest:
        if len(sampled) == k:
            break
        c = cost.get(f, 1.0)
        if spent + c > budget:
            continue
        sampled.add(f)
        spent += c
    return changed, sampled


# ---------------------------------------------------------------- running mutmut in a copy


def copy_checkout(dest: Path) -> None:
    """The checkout as git sees it (tracked + untracked, not ignored), links kept, into dest."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    existing = b"\0".join(f for f in files.split(b"\0") if f and os.path.lexists(REPO / f.decode()))
    pack = subprocess.Popen(
        ["tar", "-c", "--null", "-T", "-", "-f", "-"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    unpack = subprocess.Popen(["tar", "-x", "-f", "-"], cwd=dest, stdin=pack.stdout)
    assert pack.stdin is not None
    assert pack.stdout is not None
    pack.stdout.close()
    pack.stdin.write(existing)
    pack.stdin.close()
    if pack.wait() != 0 or unpack.wait() != 0:
        raise SystemExit("mutation: copying the checkout failed")


def prepare(dest: Path) -> None:
    copy_checkout(dest)
    only = "\n".join(f"    {core}/*" for core in CORES)
    (dest / "setup.cfg").write_text(SETUP_CFG.format(only=only))
    # mutmut copies tests/ with shutil.copytree, which turns the recorded machines' sysfs
    # links into plain directories; laid out first with tar, the links stay links.
    mutants = dest / "mutants"
    mutants.mkdir()
    for entry in sorted(dest.iterdir()):
        if entry.name in ("mutants", "lais_agent", "setup.cfg"):
            continue
        subprocess.run(["cp", "-a", str(entry), str(mutants / entry.name)], check=True)


def run_mutmut(dest: Path, patterns: list[str]) -> None:
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    log = dest / "mutmut.log"
    with log.open("w") as out:
        proc = subprocess.run(
            [str(mutmut), "run", *patterns], cwd=dest, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise SystemExit(f"mutation: mutmut failed (exit {proc.returncode}); {log}:\n{tail}")


def results(dest: Path) -> tuple[dict[str, str], dict[str, float]]:
    """Each mutant's status, and each function's cost (seconds its mutants took)."""
    status: dict[str, str] = {}
    cost: dict[str, float] = {}
    for meta in (dest / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for name, code in data["exit_code_by_key"].items():
            status[name] = STATUS.get(code, "suspicious") if code is not None else "not checked"
        for name, seconds in data.get("durations_by_key", {}).items():
            f = function_of(name)
            cost[f] = round(cost.get(f, 0.0) + float(seconds), 3)
    return status, cost


def mutant_sources(dest: Path) -> dict[str, str]:
    """Every mutated function's source (and each ``__mutmut_orig``) from mutmut's copy."""
    sources: dict[str, str] = {}
    for path in (dest / "mutants" / "lais_agent").rglob("*.py"):
        rel = path.relative_to(dest / "mutants")
        if not any(str(rel).startswith(core) for core in CORES):
            continue
        text = path.read_text()
        mod = module_name(rel, Path())
        tree = ast.parse(text)
        nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            nodes += [n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        lines = text.splitlines()  # (ast.get_source_segment splits the file on every call)
        for node in nodes:
            if "__mutmut_" in node.name:
                body = lines[node.body[0].lineno - 1 : node.end_lineno]
                sources[f"{mod}.{node.name}"] = "\n".join(body)
    return sources


def change_of(sources: dict[str, str], mutant: str) -> str:
    """The mutated lines: '-old' and '+new', stripped, one per line (the body, not the def)."""
    orig = sources.get(function_of(mutant) + "__mutmut_orig", "").splitlines()
    new = sources.get(mutant, "").splitlines()
    lines = []
    for line in difflib.unified_diff(orig, new, lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        lines.append(line[0] + line[1:].strip())
    return "\n".join(lines)


def type_rejected(dest: Path) -> set[str]:
    """Mutants mypy --strict rejects: CI's type gate would stop them, so they count as killed.

    One mypy run over mutmut's copy, where each mutant is a function of its own; an error
    inside ``x_f__mutmut_4`` names that mutant. (mutmut's own type_check_command does the
    same before running; done after, it also judges a run that is already finished.)"""
    mypy = Path(sys.executable).with_name("mypy")
    out = subprocess.run(
        [str(mypy), "--output", "json", "--cache-dir", str(dest / ".mypy-cache")],
        cwd=dest / "mutants",
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    lines_by_file: dict[str, set[int]] = {}
    for line in out.splitlines():
        if line.strip():
            err = json.loads(line)
            if err.get("severity") == "error":
                lines_by_file.setdefault(err["file"], set()).add(int(err["line"]))
    rejected: set[str] = set()
    for file, lines in lines_by_file.items():
        path = dest / "mutants" / file
        if not path.is_file():
            continue
        mod = module_name(Path(file), Path())
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and re.search(
                r"__mutmut_\d+$", node.name
            ):
                end = node.end_lineno or node.lineno
                if any(node.lineno <= n <= end for n in lines):
                    rejected.add(f"{mod}.{node.name}")
    return rejected


# ---------------------------------------------------------------- judging


VERDICTS = ("equivalent", "open")


@dataclass(frozen=True)
class Listed:
    function: str
    change: str
    verdict: str  # equivalent: no test can tell it apart; open: a known gap to kill
    reason: str


def load_listed() -> list[Listed]:
    entries = []
    for path in sorted(SURVIVORS.glob("*.yaml")):
        entries += [(path, e) for e in yaml.safe_load(path.read_text()) or []]
    out = []
    for path, e in entries:
        where = f"{path.relative_to(REPO)}: {e.get('function')}"
        if e.get("verdict") not in VERDICTS:
            raise SystemExit(f"{where}: verdict must be one of {', '.join(VERDICTS)}")
        if not str(e.get("reason", "")).strip():
            raise SystemExit(f"{where}: every entry needs a reason")
        out.append(Listed(e["function"], e["change"].strip(), e["verdict"], e["reason"]))
    return out


@dataclass
class Judgement:
    new: list[tuple[str, str, str]]  # (mutant, status, change) listed nowhere
    equivalent: int
    open: int


def judge(status: dict[str, str], changes: dict[str, str], listed: list[Listed]) -> Judgement:
    verdict = {(e.function, e.change): e.verdict for e in listed}
    j = Judgement([], 0, 0)
    for mutant, st in sorted(status.items()):
        if st not in BAD:
            continue
        change = changes[mutant]
        seen = verdict.get((function_of(mutant), change))
        if seen == "equivalent":
            j.equivalent += 1
        elif seen == "open":
            j.open += 1
        else:
            j.new.append((mutant, st, change))
    return j


def score(status: dict[str, str], equivalents: int) -> dict[str, object]:
    counts: dict[str, int] = {}
    for st in status.values():
        counts[st] = counts.get(st, 0) + 1
    total = len(status)
    killed = sum(counts.get(s, 0) for s in ("killed", "timeout", "caught by type check"))
    judged = total - equivalents
    return {
        "mutants": total,
        "counts": dict(sorted(counts.items())),
        "equivalent": equivalents,
        "score": round(100.0 * killed / judged, 1) if judged else 100.0,
    }


def record_open(new: list[tuple[str, str, str]], reason: str) -> None:
    """Append survivors to the list as open gaps (the gate's starting point)."""
    entries = [
        {"function": function_of(m), "change": change, "verdict": "open", "reason": reason}
        for m, _, change in new
    ]
    seen: set[tuple[str, str]] = set()
    unique = []
    for e in entries:
        key = (e["function"], e["change"])
        if key not in seen:
            seen.add(key)
            unique.append(e)
    SURVIVORS.mkdir(exist_ok=True)
    by_package: dict[str, list[dict[str, str]]] = {}
    for e in unique:
        by_package.setdefault(e["function"].split(".")[1], []).append(e)
    for package, items in by_package.items():
        with (SURVIVORS / f"{package}.yaml").open("a") as out:
            out.write(yaml.safe_dump(items, sort_keys=False, allow_unicode=True, width=100))


def prune(alive: set[tuple[str, str]], scope: set[str] | None = None) -> int:
    """Drop listed entries (of functions in ``scope``; all when None) that no survivor
    matches any more: killed, or the line changed."""
    dropped = 0
    for path in sorted(SURVIVORS.glob("*.yaml")):
        entries = yaml.safe_load(path.read_text()) or []
        kept = [
            e
            for e in entries
            if (e["function"], e["change"].strip()) in alive
            or (scope is not None and e["function"] not in scope)
        ]
        if len(kept) != len(entries):
            dropped += len(entries) - len(kept)
            text = yaml.safe_dump(kept, sort_keys=False, allow_unicode=True, width=100)
            path.write_text(text if kept else "[]\n")
    return dropped


def tree_seed() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "HEAD^{tree}"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "no-git"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="mutation testing of the cores")
    ap.add_argument("mode", choices=("full", "ci"))
    ap.add_argument("--all", action="store_true", help="ci: judge every mutant, no sample")
    ap.add_argument(
        "--record-open",
        metavar="REASON",
        help="full: list today's unlisted survivors as open gaps, with REASON",
    )
    ap.add_argument(
        "--only",
        action="append",
        metavar="GLOB",
        help="run only mutants whose name matches (e.g. 'lais_agent.policy.facts.*'); repeatable",
    )
    ap.add_argument(
        "--changed",
        action="store_true",
        help="full: only the functions new or changed since the record, merged into it",
    )
    ap.add_argument(
        "--judge-only",
        action="store_true",
        help="judge the last run's results again (after editing survivors/), run nothing",
    )
    args = ap.parse_args(argv)

    dest = work_dir() / args.mode  # full and ci runs keep apart
    started = time.monotonic()
    current = all_functions(REPO)
    patterns: list[str] = []
    if args.only:
        patterns = list(args.only)
    elif args.mode == "full" and args.changed:
        recorded = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
        changed, _ = select(current, recorded.get("functions", {}), "", budget=0.0)
        print(f"mutation: {len(changed)} new or changed functions since the last record")
        if not changed:
            return 0
        patterns = [f"{f}__mutmut_*" for f in sorted(changed)]
    elif args.mode == "ci" and not args.all:
        recorded = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
        changed, sampled = select(
            current,
            recorded.get("functions", {}),
            tree_seed(),
            recorded.get("cost", {}),
            SAMPLE_BUDGET_S,
        )
        chosen = changed | sampled
        print(
            f"mutation: {len(changed)} new or changed functions since the last full run, "
            f"{len(sampled)} sampled of the other {len(current) - len(changed)}"
        )
        patterns = [f"{f}__mutmut_*" for f in sorted(chosen)]
    if not args.judge_only:
        prepare(dest)
        run_mutmut(dest, patterns)
    status, cost = results(dest)
    for mutant in type_rejected(dest) & {m for m, st in status.items() if st in BAD}:
        status[mutant] = "caught by type check"
    if patterns:
        status = {m: s for m, s in status.items() if any(fnmatch(m, p) for p in patterns)}
    sources = mutant_sources(dest)
    changes = {m: change_of(sources, m) for m, st in status.items() if st in BAD}
    # LAIS_MUTATION_UNLISTED=1: judge as if nothing were listed (to see which listed ones a
    # new test now kills)
    listed = [] if os.environ.get("LAIS_MUTATION_UNLISTED") == "1" else load_listed()
    j = judge(status, changes, listed)
    summary = score(status, j.equivalent)
    summary["open"] = j.open
    summary["new"] = len(j.new)
    summary["seconds"] = round(time.monotonic() - started)
    print(f"mutation: {json.dumps(summary)}")

    if args.mode == "full":
        current = all_functions(dest)  # what was mutated, even if the checkout moved on since
        # with --only, the run covers (and updates the record of) the matching functions only
        scope = {
            f
            for f in current
            if not patterns or any(fnmatch(f + "__mutmut_1", p) for p in patterns)
        }
        alive = {(function_of(m), changes[m]) for m in changes}
        dropped = prune(alive, scope if patterns else None)
        if dropped:
            print(f"mutation: {dropped} listed survivors are gone (killed or edited): unlisted")
        if args.record_open and j.new:
            record_open(j.new, args.record_open)
            print(f"mutation: {len(j.new)} survivors recorded as open in {SURVIVORS.name}/")
            j.new = []
        summary["new"] = len(j.new)
        if patterns:
            record = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
            functions = {f: h for f, h in record.get("functions", {}).items() if f not in scope} | {
                f: current[f] for f in scope
            }
            costs = {f: c for f, c in record.get("cost", {}).items() if f not in scope}
            costs |= {f: c for f, c in cost.items() if f in scope}
            merged = [*record.get("merged", []), {"only": patterns, "summary": summary}]
            record |= {"functions": functions, "cost": costs, "merged": merged}
        else:
            record = {"summary": summary, "functions": current, "cost": cost}
        BASELINE.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"mutation: baseline written to {BASELINE.relative_to(REPO)}")
    for mutant, st, change in j.new:
        print(f"\nmutation: {st}: {mutant}\n{change}", file=sys.stderr)
    if j.new:
        print(
            f"\nmutation: {len(j.new)} mutants of the cores are neither killed nor listed in "
            f"{SURVIVORS.relative_to(REPO)}: add a test that kills each, or list it there as "
            "equivalent with the reason (docs/quality.md); "
            f"`cd {dest} && mutmut show NAME` shows one",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

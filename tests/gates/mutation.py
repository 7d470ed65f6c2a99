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
when a mutant survives (or no unit test reaches it) unless ``mutation-equivalents.yaml``
lists it, with the reason it cannot be killed. An entry names the function and the mutated
line as mutmut writes it, so it does not depend on mutmut's mutant numbering.
"""

from __future__ import annotations

import argparse
import ast
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
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASELINE = HERE / "mutation-baseline.json"
EQUIVALENTS = HERE / "mutation-equivalents.yaml"
# The pure cores (issue 11): policy, catalog, hardware; renderers and fit join as they land.
CORES = ("lais_agent/policy", "lais_agent/catalog", "lais_agent/hardware")
SAMPLE_FRACTION = 0.15
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
    current: dict[str, str], baseline: dict[str, str], seed: str
) -> tuple[set[str], set[str]]:
    """(changed or new functions, sampled others) for the CI-sized run."""
    changed = {f for f, h in current.items() if baseline.get(f) != h}
    rest = sorted(set(current) - changed)
    rng = random.Random(seed)  # a reproducible sample, not a secret
    k = max(1, round(len(rest) * SAMPLE_FRACTION)) if rest else 0
    return changed, set(rng.sample(rest, k))


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


def results(dest: Path) -> dict[str, str]:
    status: dict[str, str] = {}
    for meta in (dest / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for name, code in data["exit_code_by_key"].items():
            status[name] = STATUS.get(code, "suspicious") if code is not None else "not checked"
    return status


def change_of(dest: Path, mutant: str) -> str:
    """The mutated lines as mutmut shows them: '-old' and '+new', stripped, one per line."""
    mutmut = Path(sys.executable).with_name("mutmut")
    shown = subprocess.run(
        [str(mutmut), "show", mutant], cwd=dest, capture_output=True, text=True, check=False
    ).stdout
    lines = []
    for line in shown.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith(("-", "+")):
            lines.append(line[0] + line[1:].strip())
    return "\n".join(lines)


# ---------------------------------------------------------------- judging


@dataclass(frozen=True)
class Equivalent:
    function: str
    change: str
    reason: str


def load_equivalents() -> list[Equivalent]:
    if not EQUIVALENTS.exists():
        return []
    entries = yaml.safe_load(EQUIVALENTS.read_text()) or []
    out = []
    for e in entries:
        if not str(e.get("reason", "")).strip():
            raise SystemExit(f"{EQUIVALENTS.name}: {e.get('function')}: every entry needs a reason")
        out.append(Equivalent(e["function"], e["change"].strip(), e["reason"]))
    return out


def unexplained(
    dest: Path, status: dict[str, str], equivalents: list[Equivalent]
) -> list[tuple[str, str, str]]:
    known = {(e.function, e.change) for e in equivalents}
    bad = []
    for mutant, st in sorted(status.items()):
        if st not in BAD:
            continue
        change = change_of(dest, mutant)
        if (function_of(mutant), change) not in known:
            bad.append((mutant, st, change))
    return bad


def score(status: dict[str, str], equivalents: int) -> dict[str, object]:
    counts: dict[str, int] = {}
    for st in status.values():
        counts[st] = counts.get(st, 0) + 1
    total = len(status)
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    judged = total - equivalents
    return {
        "mutants": total,
        "counts": dict(sorted(counts.items())),
        "equivalent": equivalents,
        "score": round(100.0 * killed / judged, 1) if judged else 100.0,
    }


def tree_seed() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "HEAD^{tree}"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "no-git"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="mutation testing of the cores")
    ap.add_argument("mode", choices=("full", "ci"))
    ap.add_argument("--all", action="store_true", help="ci: judge every mutant, no sample")
    args = ap.parse_args(argv)

    dest = work_dir() / "tree"
    started = time.monotonic()
    current = all_functions(REPO)
    patterns: list[str] = []
    if args.mode == "ci" and not args.all:
        baseline = json.loads(BASELINE.read_text())["functions"] if BASELINE.exists() else {}
        changed, sampled = select(current, baseline, tree_seed())
        chosen = changed | sampled
        print(
            f"mutation: {len(changed)} new or changed functions since the last full run, "
            f"{len(sampled)} sampled of the other {len(current) - len(changed)}"
        )
        patterns = [f"{f}__mutmut_*" for f in sorted(chosen)]
    prepare(dest)
    run_mutmut(dest, patterns)
    status = results(dest)
    if patterns:
        chosen_functions = {p.removesuffix("__mutmut_*") for p in patterns}
        status = {m: s for m, s in status.items() if function_of(m) in chosen_functions}
    equivalents = load_equivalents()
    bad = unexplained(dest, status, equivalents)
    explained = sum(1 for st in status.values() if st in BAD) - len(bad)
    summary = score(status, explained)
    summary["seconds"] = round(time.monotonic() - started)
    print(f"mutation: {json.dumps(summary)}")

    if args.mode == "full":
        BASELINE.write_text(
            json.dumps({"summary": summary, "functions": current}, indent=1, sort_keys=True) + "\n"
        )
        print(f"mutation: baseline written to {BASELINE.relative_to(REPO)}")
    for mutant, st, change in bad:
        print(f"\nmutation: {st}: {mutant}\n{change}", file=sys.stderr)
    if bad:
        print(
            f"\nmutation: {len(bad)} mutants of the cores are neither killed nor listed in "
            f"{EQUIVALENTS.relative_to(REPO)}: add a test that kills each, or list it there "
            "with the reason it is equivalent (see docs/quality.md); "
            f"`cd {dest} && mutmut show NAME` shows one",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

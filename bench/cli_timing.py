"""(b) One-shot CLI wall time: ``laisctl status`` beside ``busctl``, a breakdown of where
laisctl's start-up goes, import costs alone and ``python -X importtime``."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.noise import Meter, wait_quiet
from bench.paths import LAISCTL, PYTHON, REPO
from bench.plan import Plan
from bench.sides import Side
from lais_agent import names


def timed_run(argv: Sequence[str], env: Mapping[str, str], expect: str = "") -> float:
    """Wall milliseconds of one process, from spawn to reaped; checks it worked."""
    start = time.perf_counter()
    done = subprocess.run(list(argv), env=dict(env), capture_output=True, cwd="/", check=False)
    wall = (time.perf_counter() - start) * 1000
    if done.returncode != 0 or expect.encode() not in done.stdout:
        raise BenchError(f"{argv} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return wall


def interleaved(
    commands: Mapping[str, tuple[list[str], str]], env: Mapping[str, str], runs: int, plan: Plan
) -> dict[str, Any]:
    """Each command ``runs`` times, interleaved (rotating order), after one unrecorded run."""
    labels = list(commands)
    walls: dict[str, list[float]] = {label: [] for label in labels}
    for label in labels:
        timed_run(commands[label][0], env, commands[label][1])  # page cache, pyc
    waits: list[dict[str, float]] = []
    with Meter() as meter:
        for i in range(runs):
            if i % 5 == 0:
                waits.append(wait_quiet(plan))
            for label in labels[i % len(labels) :] + labels[: i % len(labels)]:
                argv, expect = commands[label]
                walls[label].append(timed_run(argv, env, expect))
    return {
        "cells": {
            label: {
                "runs": len(w),
                "median_ms": round(statistics.median(w), 1),
                "min_ms": round(min(w), 1),
                "max_ms": round(max(w), 1),
                "all_ms": [round(x, 1) for x in w],
            }
            for label, w in walls.items()
        },
        "quiet_waits": waits,
        **meter.result,
    }


def busctl_argv(address: str) -> list[str]:
    return [
        "busctl",
        f"--address={address}",
        "call",
        names.BUS_NAME,
        names.ROOT_PATH,
        names.MANAGER_IFACE,
        "GetStatus",
    ]


def plain_layout(tmp: Path) -> Path:
    """A venv laid out like the .deb's: packages on plain sys.path entries.

    The development venv installs the project editable; its .pth hook imports an
    import finder (pathlib, importlib.util, ...) in *every* interpreter it starts,
    laisctl included. The shipped venv has no such hook. This venv sees the same
    packages (the dev venv's site-packages and the checkout as .pth path lines,
    which site.py appends without running anything) and gets the same laisctl
    script, so the difference between the two is that hook alone.
    """
    venv = tmp / "venv-plain"
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}"
    subprocess.run(
        [str(base), "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
    )
    purelib = Path(sysconfig.get_paths()["purelib"])
    ours = venv / purelib.relative_to(sys.prefix)
    (ours / "_bench_paths.pth").write_text(f"{purelib}\n{REPO}\n")
    # the launcher the .deb installs (packaging/laisctl), pointed at this venv
    launcher = (REPO / "packaging" / "laisctl").read_text()
    laisctl = venv / "bin" / "laisctl"
    laisctl.write_text(launcher.replace("/usr/lib/localaistack", str(venv)))
    laisctl.chmod(0o755)
    return venv


def phase_cli(agent: Side, plan: Plan, tmp: Path) -> dict[str, Any]:
    env = agent.bus.env()
    plain = plain_layout(tmp)
    main = interleaved(
        {
            "laisctl status": ([str(plain / "bin" / "laisctl"), "status"], "lais-agent"),
            "busctl call GetStatus": (busctl_argv(agent.address), "a{sv}"),
        },
        env,
        plan.cli_runs,
        plan,
    )
    plain_python = str(plain / "bin" / "python3")
    breakdown = interleaved(
        {
            "python -I -S -c pass": ([PYTHON, "-I", "-S", "-c", "pass"], ""),
            "python -c pass": ([PYTHON, "-c", "pass"], ""),
            "python -c 'import click'": ([PYTHON, "-c", "import click"], ""),
            "python -c 'import dbus'": ([PYTHON, "-c", "import dbus"], ""),
            "python -c 'import argparse'": ([PYTHON, "-c", "import argparse"], ""),
            "laisctl --version": ([LAISCTL, "--version"], "laisctl"),
            "dev venv: laisctl status": ([LAISCTL, "status"], "lais-agent"),
            "plain venv: python -c pass": ([plain_python, "-c", "pass"], ""),
            "plain venv: laisctl status": (
                [str(plain / "bin" / "laisctl"), "status"],
                "lais-agent",
            ),
        },
        env,
        plan.breakdown_runs,
        plan,
    )
    # Import costs alone: `python -S` with the same packages on PYTHONPATH, so no .pth
    # hook runs and each row is interpreter + exactly the named imports.
    paths = [sysconfig.get_paths()["purelib"], *(p for p in sys.path if "dist-packages" in p)]
    bare_env = {**env, "PYTHONPATH": os.pathsep.join([*paths, str(REPO)])}
    cli_modules = "lais_agent.cli.main, lais_agent.cli.client, lais_agent.cli.output"
    imports = interleaved(
        {
            f"python -S -c '{code}'": ([PYTHON, "-S", "-c", code], "")
            for code in (
                "pass",
                "import click",
                "import argparse",
                "import dbus",
                "import _dbus_bindings",
                "import json",
                "import click, dbus",
                "import argparse, dbus",
                f"import {cli_modules}",
            )
        },
        bare_env,
        plan.breakdown_runs,
        plan,
    )
    return {
        "main": main,
        "breakdown": breakdown,
        "imports": imports,
        "importtime": importtime([LAISCTL, "status"], env),
        # the packaged launcher is a sh wrapper; time what it runs: python -I -c ...
        "importtime_plain": importtime(
            [
                str(plain / "bin" / "python3"),
                "-I",
                "-c",
                "from lais_agent.cli.main import main; main()",
                "status",
            ],
            env,
        ),
    }


def importtime(argv: Sequence[str], env: Mapping[str, str], runs: int = 5) -> dict[str, Any]:
    """``python -X importtime <script>``: imports at the top two levels, cumulative ms.

    ``argv`` is a Python script (its #! names the interpreter) or an interpreter
    followed by its arguments.
    """
    script = list(argv)
    if Path(script[0]).name.startswith("python"):
        interpreter, script = script[0], script[1:]
    else:
        interpreter = Path(script[0]).read_text().splitlines()[0].removeprefix("#!").strip()
    samples: list[dict[str, int]] = []
    for _ in range(runs):
        done = subprocess.run(
            [interpreter, "-X", "importtime", *script],
            env=dict(env),
            capture_output=True,
            cwd="/",
            check=True,
        )
        seen: dict[str, int] = {}
        for line in done.stderr.decode().splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _head, cumulative, name = line.split("|", 2)
            level = (len(name) - len(name.lstrip()) - 1) // 2
            if level <= 1:
                key = ("  " * level) + name.strip()
                seen[key] = seen.get(key, 0) + int(cumulative)
        samples.append(seen)
    keys = {k for s in samples for k in s}
    medians = {k: statistics.median(s.get(k, 0) for s in samples) / 1000 for k in keys}
    top = {k: v for k, v in medians.items() if not k.startswith(" ")}
    nested = {k.strip(): v for k, v in medians.items() if k.startswith(" ")}
    return {
        "runs": runs,
        "top_level_cumulative_ms": {
            k: round(v, 1) for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:8]
        },
        "second_level_cumulative_ms": {
            k: round(v, 1) for k, v in sorted(nested.items(), key=lambda kv: -kv[1])[:15]
        },
        "total_top_level_ms": round(sum(top.values()), 1),
    }

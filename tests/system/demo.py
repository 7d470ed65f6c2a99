"""`make demo`: build the package, boot a disposable Debian 13, install it, and tour it.

    python -m tests.system.demo [--suite trixie|bookworm] [--keep]

--keep opens a shell in the machine at the end; the machine is torn down when the
shell exits. Exits non-zero if any step does not behave as shown.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import textwrap

from tests.system.machine import TESTBED, Machine
from tests.system.package import build_package

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def show(machine: Machine, command: str, *, user: str | None = None, expect: int = 0) -> str:
    prompt = f"{user}$" if user else "root#"
    print(f"{DIM}{prompt}{RESET} {command}", flush=True)
    # a login on the machine's local seat, as at a console: polkit sees a local active session
    script = f"XDG_SEAT=seat0 su -l {user} -c {shlex.quote(command)}" if user else command
    done = machine.run("/bin/sh", "-c", f"{script} 2>&1; echo __rc=$?", check=False)
    output, _, rc = done.stdout.rpartition("__rc=")
    print(textwrap.indent(output.rstrip(), "  "), flush=True)
    if int(rc) != expect:
        raise SystemExit(f"demo: `{command}` exited {rc.strip()}, expected {expect}")
    return output


def tour(machine: Machine, deb: str) -> None:
    say("Install the package with apt")
    show(machine, f"apt-get install -y -q /debs/{deb} | tail -n 3")
    say("The agent is D-Bus activated: not running until the first call")
    show(machine, "systemctl is-active lais-agent", expect=3)
    show(machine, "laisctl status")
    show(machine, "systemctl status --no-pager --lines=0 lais-agent")
    say("What the agent found on this machine, and what that lets it run")
    show(machine, "laisctl hardware")
    show(machine, "laisctl tier --explain")
    show(machine, "laisctl module list --category runtime")
    say("What installing a module would take here: a plan, nothing is changed")
    show(machine, "laisctl module list --installable --category service")
    show(machine, "laisctl module plan vllm", expect=2)
    show(machine, "laisctl module plan postgresql")
    show(machine, "laisctl module info llama.cpp")
    show(machine, "busctl tree --list org.localaistack.Agent1 | grep -c /modules/")
    show(
        machine,
        "busctl get-property org.localaistack.Agent1 "
        "/org/localaistack/Agent1/modules/postgresql org.localaistack.Agent1.Module Installable",
    )
    say("The API on the system bus, and the agent's structured logs in journald")
    show(
        machine,
        "busctl introspect org.localaistack.Agent1 /org/localaistack/Agent1 "
        "org.localaistack.Agent1.Manager",
    )
    show(
        machine,
        "journalctl -u lais-agent --no-pager -o verbose | "
        "grep -E 'MESSAGE=|LAIS_BUS_NAME|LOGGER' | head -n 6",
    )
    say("Authorization by the real polkitd: alice is in group lais, bob is not")
    show(
        machine,
        "useradd --create-home --groups lais alice && useradd --create-home bob && "
        "echo users created",
    )
    show(machine, "laisctl status | head -n 2", user="bob")
    show(machine, "laisctl reload", user="bob", expect=4)
    show(machine, "laisctl reload", user="alice")
    say("The agent's sandbox")
    show(machine, "systemd-analyze security --no-pager lais-agent.service | tail -n 1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="trixie", choices=["trixie", "bookworm"])
    parser.add_argument(
        "--keep", action="store_true", help="open a shell in the machine at the end"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("demo: run as root (it boots a container with systemd-nspawn)", file=sys.stderr)
        return 1
    say(f"Building localaistack inside a Debian {args.suite} machine")
    package = build_package(args.suite, TESTBED / "out" / args.suite)
    print(f"  built {package.deb.name}")
    lintian = [line for line in package.lintian.splitlines() if line[:2] in ("E:", "W:")]
    print(f"  lintian: {len(lintian)} errors/warnings")
    machine = Machine(
        args.suite, f"lais-demo-{os.getpid()}", binds_ro=[(package.deb.parent, "/debs")]
    )
    say(f"Booting a disposable Debian {args.suite} machine (systemd-nspawn)")
    machine.up()
    try:
        tour(machine, package.deb.name)
        say("Tour complete")
        if args.keep:
            print("  shell in the machine; exit to tear it down")
            assert machine.leader is not None
            subprocess.call(["nsenter", "-t", str(machine.leader), "-a", "--", "/bin/bash", "-l"])
    finally:
        machine.down()
        print("  machine torn down")
    return 0


if __name__ == "__main__":
    sys.exit(main())

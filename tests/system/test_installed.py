"""The installed package on booted Debian 12 and 13: real systemd, dbus, polkitd, journald."""

from __future__ import annotations

import json
import re
import time

import pytest

from lais_agent import __version__, names
from lais_agent.errors import EXIT_NOT_AUTHORIZED
from tests.system.conftest import RESULTS
from tests.system.machine import Machine
from tests.system.package import BuiltPackage

pytestmark = pytest.mark.system

# systemd-analyze security: 0 is best, 10 worst; "OK" ends at 4.9 (see docs/benchmarks.md
# for the measured value, 1.6 on Debian 12 and 13, and why the rest is needed).
EXPOSURE_THRESHOLD = 2.0


def test_lintian_is_clean(package: BuiltPackage) -> None:
    tags = [line for line in package.lintian.splitlines() if re.match(r"^[EW]: ", line)]
    assert not tags, "\n".join(tags)


def test_first_call_bus_activates_the_agent(machine: Machine) -> None:
    assert machine.exec("systemctl", "is-active", "lais-agent", check=False).stdout.strip() in (
        "inactive",
        "unknown",
    )
    status = machine.run("laisctl", "status")
    assert f"lais-agent {__version__}" in status.stdout
    assert machine.exec("systemctl", "is-active", "lais-agent").stdout.strip() == "active"
    shown = machine.exec("systemctl", "status", "--no-pager", "lais-agent").stdout
    assert "Active: active (running)" in shown
    assert "lais.slice" in machine.exec("systemctl", "show", "-p", "Slice", "lais-agent").stdout


def test_agent_pings_the_watchdog(machine: Machine) -> None:
    """With WatchdogSec=2s the agent must ping every second, or systemd kills it."""
    machine.exec(
        "/bin/sh",
        "-ec",
        """
        mkdir -p /run/systemd/system/lais-agent.service.d
        printf '[Service]\\nWatchdogSec=2s\\n' > /run/systemd/system/lais-agent.service.d/wd.conf
        systemctl daemon-reload && systemctl restart lais-agent""",
    )
    try:
        pid = machine.exec("systemctl", "show", "-p", "MainPID", "--value", "lais-agent").stdout
        time.sleep(5)
        shown = machine.exec(
            "systemctl",
            "show",
            "-p",
            "MainPID,NRestarts,ActiveState,WatchdogUSec,StatusText",
            "lais-agent",
        ).stdout
        props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        assert props["WatchdogUSec"] == "2s", shown
        assert props["MainPID"] == pid.strip(), shown  # not killed and restarted
        assert props["NRestarts"] == "0", shown
        assert props["ActiveState"] == "active", shown
        assert props["StatusText"].startswith("ready;"), shown  # sd_notify STATUS=
    finally:
        machine.exec(
            "/bin/sh",
            "-ec",
            """
            rm -rf /run/systemd/system/lais-agent.service.d
            systemctl daemon-reload && systemctl restart lais-agent""",
        )


def test_journal_holds_structured_logs(machine: Machine) -> None:
    machine.run("laisctl", "status")
    out = machine.exec("journalctl", "-u", "lais-agent", "-o", "json", "--no-pager").stdout
    entries = [json.loads(line) for line in out.splitlines() if line.strip()]
    owned = [e for e in entries if e.get("LAIS_BUS_NAME") == names.BUS_NAME]
    assert owned, f"no structured entry among {len(entries)}"
    assert owned[0]["SYSLOG_IDENTIFIER"] == "lais-agent"
    assert owned[0]["LOGGER"] == "lais_agent.daemon"


def test_busctl_introspect_shows_the_api(machine: Machine) -> None:
    out = machine.exec("busctl", "introspect", names.BUS_NAME, names.ROOT_PATH).stdout
    assert names.MANAGER_IFACE in out
    assert ".GetHardware" in out


def test_hardware_json_answers(machine: Machine) -> None:
    data = json.loads(machine.run("laisctl", "hardware", "--json").stdout)
    assert data["os"]["container"] == "systemd-nspawn"
    assert data["cpu"]["logical_cores"] >= 1


def test_tier_from_the_shipped_policies(machine: Machine) -> None:
    data = json.loads(machine.run("laisctl", "tier", "--json").stdout)
    assert data["tier"] == "tier0-cpu"  # no GPU in the test machine
    assert "llama.cpp" in data["limits"]["allowed_runtimes"]
    explained = machine.run("laisctl", "tier", "--explain").stdout
    assert "not tier1-entry: GPUs 0 < 1" in explained
    modules = json.loads(machine.run("laisctl", "module", "list", "--json").stdout)
    vllm = next(m for m in modules if m["name"] == "vllm")
    assert vllm["installable"] is False
    assert any("needs a GPU" in r for r in vllm["reasons"])
    assert len(modules) == 31  # the shipped catalog, from /usr/share/localaistack/catalog


POSTGRESQL = {"bookworm": "15", "trixie": "17"}  # each release's own PostgreSQL


def test_modules_installable_and_plans_on_this_release(machine: Machine, suite: str) -> None:
    installable = machine.run("laisctl", "module", "list", "--installable").stdout
    assert f"yes: {POSTGRESQL[suite]} via apt" in installable
    assert "vllm" not in installable
    refused = machine.run("laisctl", "module", "plan", "vllm", check=False)
    assert refused.returncode == 2, refused.stderr
    assert "needs capability tier rank >= 2; this machine is tier0-cpu" in refused.stderr
    plan = json.loads(machine.run("laisctl", "module", "plan", "postgresql", "--json").stdout)
    (step,) = plan["steps"]
    assert (step["module"], step["version"], step["mode"]) == (
        "postgresql",
        POSTGRESQL[suite],
        "apt",
    )
    assert step["downloads"][0]["verified_by"] == "the archive's signatures"
    # no podman in the machine: containers are not an option, and the plan says why
    assert "not container: the image digest is unknown, it cannot be pinned" in step["explanation"]
    info = machine.run("laisctl", "module", "info", "postgresql").stdout
    assert "State             available" in info
    tree = machine.run("busctl", "tree", "--list", "org.localaistack.Agent1").stdout
    assert "/org/localaistack/Agent1/modules/llama_2ecpp" in tree


def test_signed_admin_manifest_is_verified_by_the_installed_agent(machine: Machine) -> None:
    """The distribution's python3-cryptography signs and verifies; tampering is refused."""
    sign = "/usr/lib/localaistack/bin/python3 -m lais_agent.catalog.signing"
    machine.shell(
        f"""
        mkdir -p /root/keys /etc/localaistack/keys.d /etc/localaistack/catalog.d
        cd /root/keys && {sign} keygen lab-2026
        cp /root/keys/lab-2026.pub /etc/localaistack/keys.d/
        cp /usr/share/localaistack/catalog/redis.yaml /etc/localaistack/catalog.d/redis.yaml
        {sign} sign --key /root/keys/lab-2026.key /etc/localaistack/catalog.d/redis.yaml
        laisctl reload
        """
    )
    try:
        info = machine.run("laisctl", "module", "info", "redis").stdout
        assert "Signed by         lab-2026" in info
        assert (
            "/etc/localaistack/catalog.d/redis.yaml"
            in machine.run("laisctl", "module", "list", "--json").stdout
        )
        machine.shell(
            "sed -i 's/disk_gib: 0.1/disk_gib: 5/' /etc/localaistack/catalog.d/redis.yaml"
        )
        refused = machine.run("laisctl", "reload", check=False)
        assert refused.returncode == 8, refused.stderr
        assert "the signature by key 'lab-2026' does not verify" in refused.stderr
    finally:
        machine.shell("rm -rf /etc/localaistack/catalog.d/redis.yaml /etc/localaistack/keys.d")
        machine.run("laisctl", "reload")


@pytest.fixture(scope="module")
def users(machine: Machine) -> tuple[str, str]:
    machine.exec("useradd", "--create-home", "--groups", "lais", "alice")
    machine.exec("useradd", "--create-home", "bob")
    return "alice", "bob"


def test_everyone_reads_status(machine: Machine, users: tuple[str, str]) -> None:
    for user in (None, *users):
        result = machine.run("laisctl", "status", "--json", user=user, check=False)
        assert result.returncode == 0, (user, result.stderr)
        assert json.loads(result.stdout)["version"] == __version__


def _in_login_session(
    machine: Machine, user: str, command: str, *, seat: str | None = "seat0"
) -> tuple[int, str]:
    """Run ``command`` in a real PAM/logind session of ``user`` (su -l through pam_systemd).

    With a seat, pam_systemd registers the session on the machine's local seat, as a
    console or desktop login is (polkit: subject.local and subject.active). Without
    one it is a seatless session, which polkit does not count as local.
    """
    prefix = f"XDG_SEAT={seat} " if seat else ""
    script = f"{prefix}su -l {user} -c {command!r}; echo rc=$?"
    out = machine.run("/bin/sh", "-c", script, check=False).stdout
    rc = int(out.rsplit("rc=", 1)[1])
    return rc, out


def test_mutating_call_needs_lais_group(machine: Machine, users: tuple[str, str]) -> None:
    alice, bob = users
    rc, out = _in_login_session(machine, bob, "laisctl reload 2>&1")
    assert rc == EXIT_NOT_AUTHORIZED, out
    assert names.ACTION_MODULE_MANAGE in out
    assert "authentication is required" in out
    rc, out = _in_login_session(machine, alice, "laisctl reload 2>&1")
    assert rc == 0, out
    assert "reloaded" in out
    # the grant depends on a local active session: alice outside one is refused
    outside = machine.run("laisctl", "reload", user=alice, check=False)
    assert outside.returncode == EXIT_NOT_AUTHORIZED, outside.stdout + outside.stderr
    rc, out = _in_login_session(machine, alice, "laisctl reload 2>&1", seat=None)
    assert rc == EXIT_NOT_AUTHORIZED, out


def test_on_a_terminal_polkit_asks_for_a_password(machine: Machine, users: tuple[str, str]) -> None:
    """laisctl starts pkttyagent on a TTY (as systemctl does); polkitd asks there for an
    administrator's password, and the call goes through once it is typed."""
    _, bob = users
    machine.exec("/bin/sh", "-ec", "echo root:admin-secret | chpasswd")
    typed = "(sleep 3; printf 'admin-secret\\n') | script -qec 'laisctl reload' /dev/null"
    rc, out = _in_login_session(machine, bob, typed)
    assert f"AUTHENTICATING FOR {names.ACTION_MODULE_MANAGE}" in out, out
    assert "Authentication is required to install, upgrade or remove AI" in out, out
    assert "Password:" in out, out
    assert "lais-agent reloaded" in out, out
    assert rc == 0, out


def test_security_exposure_is_bounded(machine: Machine, suite: str) -> None:
    out = machine.exec("systemd-analyze", "security", "--no-pager", "lais-agent.service").stdout
    match = re.search(r"Overall exposure level for lais-agent.service: ([0-9.]+) (\w+)", out)
    assert match, out[-2000:]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"security-{suite}.txt").write_text(out)
    assert float(match.group(1)) <= EXPOSURE_THRESHOLD, out


def test_remove_then_purge_leaves_nothing(machine: Machine) -> None:
    machine.run("laisctl", "status")
    # a unit the agent would have generated for a module, running
    machine.exec(
        "/bin/sh",
        "-ec",
        """
        mkdir -p /var/lib/localaistack/models && echo m > /var/lib/localaistack/models/blob
        printf '[Service]\\nExecStart=/bin/sleep infinity\\n' \\
            > /etc/systemd/system/lais-fake.service
        systemctl daemon-reload && systemctl start lais-fake.service""",
    )
    machine.run("apt-get", "remove", "-y", "-q", "localaistack")
    assert machine.exec("pgrep", "-f", "lais-agent|lais_agent", check=False).returncode == 1
    units = machine.exec(
        "systemctl", "list-units", "--all", "--plain", "--no-legend", "lais-*", check=False
    ).stdout
    assert units.strip() == "", units
    files = machine.exec(
        "systemctl", "list-unit-files", "--plain", "--no-legend", "lais-*", check=False
    ).stdout
    assert files.strip() == "", files
    assert (
        machine.exec("test", "-f", "/var/lib/localaistack/models/blob", check=False).returncode == 0
    )
    machine.run("apt-get", "purge", "-y", "-q", "localaistack")
    for path in ("/var/lib/localaistack", "/etc/localaistack", "/usr/lib/localaistack"):
        assert machine.exec("test", "-e", path, check=False).returncode == 1, path
    assert machine.exec("pgrep", "-f", "lais", check=False).returncode == 1

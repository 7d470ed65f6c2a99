"""Throwaway booted Debian machines for system tests: systemd-nspawn + debootstrap.

Never boots systemd on the host: /sbin/init only ever runs inside
``systemd-nspawn -D <image>`` with its own root. Images are built once with
debootstrap, cached under ``$LAIS_TESTBED`` (default /var/cache/localaistack-testbed)
and never modified: machines boot them with ``--volatile=overlay`` (a tmpfs upper
layer that vanishes at shutdown) and a private network namespace.

Usable from pytest (tests/system/conftest.py) and from the shell:

    python -m tests.system.machine build trixie
    python -m tests.system.machine shell trixie      # boot, shell inside, tear down
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.owned import OWNED

TESTBED = Path(os.environ.get("LAIS_TESTBED", "/var/cache/localaistack-testbed"))
SUITES = ("bookworm", "trixie")
CPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What a machine needs to boot and to install the package without network (every
# dependency of the .deb is already here): debootstrap installs these...
PACKAGES = (
    "systemd,systemd-sysv,libpam-systemd,dbus,polkitd,python3,python3-venv,python3-dbus,"
    "python3-apt,python3-systemd,python3-yaml,ca-certificates,procps,iproute2,less,util-linux"
)
# ...and apt-get, in a second step, the rest of the package's dependencies and what
# building it needs (debootstrap cannot order the dependencies of lintian's perl
# modules or of python3-cryptography).
BUILD_PACKAGES = "python3-cryptography build-essential debhelper dpkg-dev lintian fakeroot"
IMAGE_VERSION = "4"  # bump to rebuild cached images after changing the configuration below


def log(message: str) -> None:
    print(f"[machine {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def host_mirror() -> str:
    """The Debian archive the host's own apt uses (the one this machine may reach)."""
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        with contextlib.suppress(OSError):
            for match in re.finditer(
                r"(?:URIs:|^deb)\s*(\S+://\S+/debian)/?\s", path.read_text(), re.M
            ):
                return match.group(1)
    return "http://deb.debian.org/debian"


def _stamp(suite: str) -> str:
    key = f"{suite}|{PACKAGES}|{BUILD_PACKAGES}|{IMAGE_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def image_dir(suite: str) -> Path:
    return TESTBED / "images" / suite


def build_image(suite: str, *, force: bool = False) -> Path:
    """debootstrap a cached image (atomic, locked); a no-op when it is up to date."""
    if suite not in SUITES:
        raise ValueError(f"unsupported suite {suite!r}; use one of {SUITES}")
    image = image_dir(suite)
    (TESTBED / "locks").mkdir(parents=True, exist_ok=True)
    with open(TESTBED / "locks" / f"{suite}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp_file = image / "etc/lais-image.stamp"
        if not force and stamp_file.exists() and stamp_file.read_text().strip() == _stamp(suite):
            return image
        tmp = image.with_name(f"{suite}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        cache = TESTBED / "debcache" / suite
        cache.mkdir(parents=True, exist_ok=True)
        mirror = os.environ.get("LAIS_MIRROR") or host_mirror()
        log(f"debootstrap {suite} from {mirror} (a few minutes the first time)")
        logfile = TESTBED / f"debootstrap-{suite}.log"
        with logfile.open("w") as out:
            done = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--cache-dir={cache}",
                    f"--include={PACKAGES}",
                    suite,
                    str(tmp),
                    mirror,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(
                f"debootstrap failed; see {logfile}:\n" + logfile.read_text()[-3000:]
            )
        _configure_image(tmp, suite, mirror)
        log(f"installing build tools into {suite}: {BUILD_PACKAGES}")
        with logfile.open("a") as out:
            done = subprocess.run(
                [
                    "systemd-nspawn",
                    "--quiet",
                    "--register=no",
                    "--keep-unit",
                    "--console=pipe",
                    "-D",
                    str(tmp),
                    "/usr/bin/env",
                    "-i",
                    f"PATH={CPATH}",
                    "DEBIAN_FRONTEND=noninteractive",
                    "/bin/sh",
                    "-ec",
                    f"apt-get update -q && apt-get install -y -q {BUILD_PACKAGES} && apt-get clean",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                preexec_fn=lambda: _join_private_cgroup(f"build-{suite}"),
            )
        _remove_private_cgroup(f"build-{suite}")
        if done.returncode != 0:
            raise RuntimeError(
                f"apt-get in the image failed; see {logfile}:\n" + logfile.read_text()[-3000:]
            )
        for pattern in ("var/cache/apt/*.bin", "var/lib/apt/lists/*_*"):
            for path in tmp.glob(pattern):
                path.unlink()
        (tmp / "etc/lais-image.stamp").write_text(_stamp(suite) + "\n")
        shutil.rmtree(image, ignore_errors=True)
        tmp.rename(image)
        log(f"image ready: {image}")
        return image


def _configure_image(root: Path, suite: str, mirror: str) -> None:
    security = mirror.replace("/debian", "/debian-security")
    sources = root / "etc/apt/sources.list.d/debian.sources"
    sources.write_text(
        f"Types: deb\nURIs: {mirror}\nSuites: {suite} {suite}-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {security}\nSuites: {suite}-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    with contextlib.suppress(FileNotFoundError):
        (root / "etc/apt/sources.list").unlink()
    (root / "etc/apt/apt.conf.d/90lais-test").write_text(
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
        'Dpkg::Use-Pty "0";\nAcquire::Retries "3";\n'
    )
    (root / "etc/machine-id").write_text("")  # a transient machine id per boot
    with contextlib.suppress(FileNotFoundError):
        (root / "var/lib/dbus/machine-id").unlink()
    with contextlib.suppress(FileNotFoundError):
        (root / "etc/hostname").unlink()  # the nspawn machine name becomes the hostname
    for unit in ("console-getty.service", "getty@tty1.service"):
        link = root / "etc/systemd/system" / unit
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to("/dev/null")
    journald = root / "etc/systemd/journald.conf.d"
    journald.mkdir(parents=True, exist_ok=True)
    (journald / "90-lais-test.conf").write_text("[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n")


# ------------------------------------------------------------------ cgroups ----
def _cgroup_hierarchies() -> list[Path]:
    unified, named = Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup/systemd")
    if unified.is_dir():  # hybrid host: the two controller-less hierarchies
        return [h for h in (unified, named) if h.is_dir()]
    if Path("/sys/fs/cgroup/cgroup.procs").exists():
        return [Path("/sys/fs/cgroup")]
    return []


def _join_private_cgroup(name: str) -> None:
    """Runs in the child before exec: each machine gets its own cgroup subtree."""
    for hierarchy in _cgroup_hierarchies():
        group = hierarchy / "lais-test" / name
        with contextlib.suppress(OSError):
            group.mkdir(parents=True, exist_ok=True)
            (group / "cgroup.procs").write_text(str(os.getpid()))


def _remove_private_cgroup(name: str) -> None:
    for hierarchy in _cgroup_hierarchies():
        group = hierarchy / "lais-test" / name
        if group.is_dir():
            for sub in sorted(group.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if sub.is_dir():
                    with contextlib.suppress(OSError):
                        sub.rmdir()
            with contextlib.suppress(OSError):
                group.rmdir()
        with contextlib.suppress(OSError):
            group.parent.rmdir()  # only succeeds once no machine is left


# ----------------------------------------------------------------- machines ----
@dataclass
class Machine:
    suite: str
    name: str
    binds_ro: Sequence[tuple[Path, str]] = ()
    binds_rw: Sequence[tuple[Path, str]] = ()
    boot_timeout: float = 120.0
    nspawn: subprocess.Popen[bytes] | None = field(default=None, init=False)
    leader: int | None = field(default=None, init=False)

    @property
    def state_dir(self) -> Path:
        return TESTBED / "run" / self.name

    def up(self) -> Machine:
        image = build_image(self.suite)
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", self.name):
            raise ValueError(f"bad machine name {self.name!r}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            "systemd-nspawn",
            "--quiet",
            "--keep-unit",
            "--register=no",
            "--link-journal=no",
            "--console=pipe",
            "-M",
            self.name,
            "-b",
            "-D",
            str(image),
            "--volatile=overlay",
            "--private-network",
        ]
        argv += [f"--bind-ro={host}:{guest}" for host, guest in self.binds_ro]
        argv += [f"--bind={host}:{guest}" for host, guest in self.binds_rw]
        env = {**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
        console = (self.state_dir / "console.log").open("wb")
        self.nspawn = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: _join_private_cgroup(self.name),
        )
        console.close()
        OWNED.add(self.nspawn.pid)
        try:
            self._wait_for_boot()
        except BaseException:
            self.down()
            raise
        return self

    def _find_leader(self) -> int | None:
        assert self.nspawn is not None
        own_ns = os.readlink("/proc/self/ns/pid")
        children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children")
        with contextlib.suppress(OSError):
            for pid in children.read_text().split():
                if os.readlink(f"/proc/{pid}/ns/pid") != own_ns:
                    return int(pid)
        return None

    def _wait_for_boot(self) -> None:
        assert self.nspawn is not None
        deadline = time.monotonic() + self.boot_timeout
        state = ""
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"nspawn exited during boot:\n{self.console()}")
            if self.leader is None:
                self.leader = self._find_leader()
            elif (
                state := self.exec("systemctl", "is-system-running", check=False).stdout.strip()
            ) in (
                "running",
                "degraded",
            ):
                if state == "degraded":
                    failed = self.exec("systemctl", "--failed", "--no-legend", check=False).stdout
                    log(f"{self.name} booted degraded: {failed.strip()}")
                return
            time.sleep(0.1)
        raise TimeoutError(
            f"{self.name} did not boot within {self.boot_timeout}s (state {state!r})"
        )

    def console(self) -> str:
        with contextlib.suppress(OSError):
            return (self.state_dir / "console.log").read_text(errors="replace")[-4000:]
        return ""

    def exec(
        self, *argv: str, check: bool = True, input: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside via nsenter (for inspection and setup: NOT confined)."""
        assert self.leader is not None
        cmd = [
            "nsenter",
            "-t",
            str(self.leader),
            "-a",
            "--",
            "/usr/bin/env",
            "-i",
            f"PATH={CPATH}",
            "HOME=/root",
            "LANG=C.UTF-8",
            "TERM=dumb",
            "DEBIAN_FRONTEND=noninteractive",
            *argv,
        ]
        done = subprocess.run(
            cmd, capture_output=True, text=True, input=input, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            agent_log = ""
            if "laisctl" in argv:  # the agent's side of the failure
                agent_log = "\nlais-agent's journal:\n" + self._agent_journal()
            raise AssertionError(
                f"{shlex.join(argv)} failed ({done.returncode}) in {self.name}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}{agent_log}"
            )
        return done

    def _agent_journal(self) -> str:
        argv = ["journalctl", "-u", "lais-agent", "--no-pager", "-n", "60", "-o", "with-unit"]
        return self.exec(*argv, check=False).stdout[-6000:]

    def run(
        self,
        *argv: str,
        user: str | None = None,
        check: bool = True,
        timeout: float = 600,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command as a transient service inside (real cgroup, sandbox, journal)."""
        props = [
            "--quiet",
            "--pipe",
            "--wait",
            "--collect",
            "--service-type=exec",
            "-p",
            "StandardInput=null",
        ]
        if user:
            props += ["--uid", user]
        for key, value in (env or {}).items():
            props += [f"--setenv={key}={value}"]
        return self.exec("systemd-run", *props, "--", *argv, check=check, timeout=timeout)

    def shell(
        self, script: str, *, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return self.run("/bin/sh", "-ec", script, check=check, timeout=timeout)

    def logs(self) -> str:
        failed = self.exec("systemctl", "--failed", "--no-legend", check=False).stdout
        journal = self.exec("journalctl", "-b", "--no-pager", "-n", "300", check=False).stdout
        return f"failed units:\n{failed}\njournal:\n{journal}"

    def down(self) -> None:
        if self.nspawn is not None and self.nspawn.poll() is None:
            # SIGTERM to nspawn = clean halt of the machine; a second one, then KILL
            for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    self.nspawn.send_signal(sig)
                try:
                    self.nspawn.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.nspawn is not None:
            OWNED.discard(self.nspawn.pid)
        _remove_private_cgroup(self.name)
        with contextlib.suppress(OSError):
            Path(f"/run/systemd/nspawn/propagate/{self.name}").rmdir()
        shutil.rmtree(self.state_dir, ignore_errors=True)


@contextlib.contextmanager
def booted(suite: str, name: str, **kwargs: object) -> Iterator[Machine]:
    machine = Machine(suite, name, **kwargs)  # type: ignore[arg-type]
    machine.up()
    try:
        yield machine
    finally:
        machine.down()


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("build", "shell"):
        print(__doc__, file=sys.stderr)
        return 2
    verb, suite = argv[0], argv[1]
    if verb == "build":
        build_image(suite, force="--force" in argv)
        return 0
    with booted(suite, f"lais-shell-{os.getpid()}") as machine:
        assert machine.leader is not None
        return subprocess.call(
            ["nsenter", "-t", str(machine.leader), "-a", "--", "/bin/bash", "-l"]
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

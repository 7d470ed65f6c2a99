"""The unit and bus tiers under Debian 13's Python (3.13), a second interpreter next to
the host's: ``python -m tests.debian13 [PYTEST ARGS]`` as root (scripts/run-tests-debian13.sh).

Never boots anything: ``systemd-nspawn -D ROOT`` runs one plain command (pytest) in a
prepared Debian 13 root. That root is tests/system's cached trixie image
(``tests.system.machine.build_image``), copied once and given what scripts/dev-env.sh
installs with apt plus the test virtualenv from requirements/test.lock and dbusmock.lock.
It is cached under ``$LAIS_DEV_CACHE`` (default /var/cache/localaistack-dev), keyed by the
image, the apt packages and the lock files, and never modified by a run: each run gets a
tmpfs overlay (``--volatile=overlay``) and the checkout bound read-only at /src.

Wheels are downloaded on the host (its network and CAs) for the root's interpreter,
binary only and hash-checked, then installed inside without network.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.system.machine import CPATH, _join_private_cgroup, _remove_private_cgroup, build_image
from tests.system.package import PLATFORMS

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("LAIS_DEV_CACHE", "/var/cache/localaistack-dev"))
SUITE = "trixie"
LOCKS = ("test.lock", "dbusmock.lock")
VENV = "/opt/lais-test-venv"
LOCK_DIR = "/opt/lais-test-locks"  # the locks the venv was built from, and pip check's verdict
# dev-env.sh's packages that only the host needs: we install binary wheels (no compiler)
# and run no machines or git inside.
HOST_ONLY = {"python3-dev", "gcc", "git", "systemd-container", "debootstrap"}
PREP_VERSION = "1"  # bump after changing how the root is prepared
DEFAULT_ARGS = ("tests/unit", "tests/bus")


def log(message: str) -> None:
    print(f"[debian13 {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def apt_packages() -> list[str]:
    """What scripts/dev-env.sh installs with apt (one list, read from there)."""
    text = (REPO / "scripts/dev-env.sh").read_text()
    match = re.search(r'^APT_PACKAGES="([^"]*)"', text, re.M)
    if match is None:
        raise RuntimeError('scripts/dev-env.sh no longer sets APT_PACKAGES="..."')
    return [p for p in match.group(1).split() if p not in HOST_ONLY]


def _key(image: Path) -> str:
    parts = [
        PREP_VERSION,
        (image / "etc/lais-image.stamp").read_text().strip(),
        " ".join(apt_packages()),
        *((REPO / "requirements" / lock).read_text() for lock in LOCKS),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _nspawn(root: Path, name: str, script: str, *, extra: Sequence[str] = ()) -> int:
    """``sh -ec script`` in ``root`` as a plain process (no boot), with a clean environment."""
    argv = [
        "systemd-nspawn",
        "--quiet",
        "--register=no",
        "--keep-unit",
        "--console=pipe",
        "--as-pid2",  # a stub init reaps orphans; pytest is not PID 1
        "-M",
        name,
        "-D",
        str(root),
        *extra,
        "/usr/bin/env",
        "-i",
        f"PATH={VENV}/bin:{CPATH}",
        "HOME=/root",
        "LANG=C.UTF-8",
        "PYTHONDONTWRITEBYTECODE=1",
        "DEBIAN_FRONTEND=noninteractive",
        "/bin/sh",
        "-ec",
        script,
    ]
    try:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            check=False,
            preexec_fn=lambda: _join_private_cgroup(name),
        ).returncode
    finally:
        _remove_private_cgroup(name)
        with contextlib.suppress(OSError):  # nspawn cannot remove it where /run is no tmpfs
            Path("/run/systemd/nspawn/propagate", name).rmdir()


def _python_of(root: Path) -> str:
    return (root / "usr/bin/python3").readlink().name.removeprefix("python")  # "3.13"


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )


def _wheels(pyver: str) -> Path:
    """Wheels for ``pyver`` of everything locked, fetched on the host (hash-checked).

    test.lock: binary wheels for the target interpreter. dbusmock.lock pins only the
    sdist of python-dbusmock (pure Python): its wheel is built here from that verified
    sdist, so nothing is built inside the root."""
    out = CACHE / f"debian13-wheels-py{pyver}"
    tag = pyver.replace(".", "")
    target = [
        "--python-version",
        pyver,
        "--implementation",
        "cp",
        *[a for abi in (f"cp{tag}", "abi3", "none") for a in ("--abi", abi)],
        *[a for p in PLATFORMS for a in ("--platform", p)],
    ]
    test_lock, dbusmock_lock = (str(REPO / "requirements" / lock) for lock in LOCKS)
    done = _pip(
        "download", "--require-hashes", "--only-binary=:all:", "--no-deps", *target,
        "-d", str(out), "-r", test_lock,
    )  # fmt: skip
    if done.returncode != 0:
        missing = re.findall(r"No matching distribution found for (\S+)", done.stderr)
        raise RuntimeError(
            f"no cp{tag} wheel with a locked hash for {', '.join(missing) or '?'} "
            f"(requirements/test.lock):\n{done.stderr[-3000:]}"
        )
    # pip download evaluates markers with the host's Python: requirements marked for the
    # target's version only (pyyaml-ft on 3.13) are fetched again with the marker dropped
    marked = _marked_for(pyver)
    if marked:
        only = out.parent / f"{out.name}.marked.txt"
        only.write_text(marked)
        done = _pip(
            "download", "--require-hashes", "--only-binary=:all:", "--no-deps", *target,
            "-d", str(out), "-r", str(only),
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"no cp{tag} wheel for {marked.split()[0]}:\n{done.stderr[-3000:]}")
    done = _pip("wheel", "--require-hashes", "--no-deps", "-w", str(out), "-r", dbusmock_lock)
    if done.returncode != 0:
        raise RuntimeError(f"building the wheels of {dbusmock_lock} failed:\n{done.stderr[-3000:]}")
    return out


def _marked_for(pyver: str) -> str:
    """test.lock's requirements marked ``python_version == "pyver"``, marker removed."""
    text = (REPO / "requirements" / "test.lock").read_text()
    blocks = re.findall(
        r'^(\S+==\S+) ; python_version == "'
        + re.escape(pyver)
        + r'"( \\\n(?:    --hash=\S+(?: \\)?\n)+)',
        text,
        re.M,
    )
    return "".join(req + hashes for req, hashes in blocks)


def _pinned(lock: str) -> list[str]:
    """The ``name==version`` lines of a lock file."""
    text = (REPO / "requirements" / lock).read_text()
    return re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*==[^\s;\\]+)", text, re.M)


def prepare() -> Path:
    """The prepared root (built when missing; atomic, locked)."""
    image = build_image(SUITE)
    key = _key(image)
    root = CACHE / f"debian13-root-{key}"
    if (root / ".lais-prepared").exists():  # no lock: runs hold it shared while they test
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"debian13-root-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / ".lais-prepared").exists():
            return root
        started = time.monotonic()
        tmp = root.with_name(root.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"copying {image} to {tmp}")
        subprocess.run(["cp", "-a", "--reflink=auto", str(image), str(tmp)], check=True)
        pyver = _python_of(tmp)
        wheels = _wheels(pyver)
        packages = " ".join(apt_packages())
        log(f"apt-get install {packages}; venv {VENV} (python {pyver}) from {', '.join(LOCKS)}")
        locks = tmp / LOCK_DIR.lstrip("/")
        locks.mkdir(parents=True)
        for name in LOCKS:  # without the host's index options: inside, /wheels is the index
            text = (REPO / "requirements" / name).read_text()
            (locks / name).write_text(
                re.sub(r"^--(?:extra-index-url|find-links) .*\n", "", text, flags=re.M)
            )
        pip = (
            f"{VENV}/bin/pip install -q --disable-pip-version-check --no-index --find-links /wheels"
        )
        script = (
            f"apt-get update -q && apt-get install -y -q {packages} && apt-get clean && "
            "rm -f /var/lib/apt/lists/*_* /var/cache/apt/*.bin && "
            f"/usr/bin/python3 -m venv --system-site-packages {VENV} && "
            # exactly what is locked, hash-checked; the lock was compiled under another Python,
            # so what it lacks for this one is found by pip check below instead of failing here
            f"{pip} --require-hashes --no-deps -r {LOCK_DIR}/test.lock && "
            # built on the host from the hash-checked sdist: no hash of this wheel is locked
            f"{pip} --no-deps {shlex.join(_pinned('dbusmock.lock'))} && "
            f"{{ {VENV}/bin/pip check > {LOCK_DIR}/pip-check.txt || true; }}"
        )
        if _nspawn(tmp, f"lais-prep-{os.getpid()}", script, extra=[f"--bind-ro={wheels}:/wheels"]):
            raise RuntimeError(f"preparing {tmp} failed (output above)")
        (tmp / ".lais-prepared").write_text(key + "\n")
        tmp.rename(root)
        log(f"prepared {root} in {time.monotonic() - started:.0f} s")
        return root


def _remove_stale(keep: Path) -> None:
    """Roots prepared (or left half-built) from older inputs, unless a run holds them."""
    for old in CACHE.glob("debian13-root-*"):
        base = old.name.removesuffix(".tmp")
        if base == keep.name or old.suffix == ".lock":
            continue
        with open(old.with_name(base + ".lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            log(f"removing the stale {old}")
            shutil.rmtree(old, ignore_errors=True)


def _inner(pytest_args: Sequence[str]) -> int:
    """Inside the root (its python3): put the read-only checkout on the venv's sys.path
    with a .pth file (pip install -e would write into it), write the project's console
    scripts, then exec pytest with the project's addopts minus coverage options (this
    run measures no coverage and must not need pytest-cov)."""
    import sysconfig

    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    Path(sysconfig.get_path("purelib"), "localaistack-src.pth").write_text(f"{REPO}\n")
    for name, target in config["project"]["scripts"].items():
        module, func = target.split(":")
        script = Path(sys.prefix, "bin", name)
        script.write_text(
            f"#!{sys.executable}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n"
        )
        script.chmod(0o755)
    opts = config.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("addopts", [])
    words = shlex.split(opts) if isinstance(opts, str) else list(opts)
    addopts = shlex.join(w for w in words if not w.startswith(("--cov", "--no-cov")))
    args = [*(pytest_args or DEFAULT_ARGS), "-p", "no:cacheprovider"]
    os.environ.update(PYTHONDONTWRITEBYTECODE="1", HYPOTHESIS_STORAGE_DIRECTORY="/tmp/hypothesis")
    print(f"{sys.executable}: Python {sys.version}", flush=True)
    argv = [sys.executable, "-m", "pytest", "-o", f"addopts={addopts}", *args]
    os.execv(sys.executable, argv)
    return 1  # not reached


def _warn_lock_gaps(root: Path, pyver: str) -> None:
    """What the locks lack for this interpreter (pip check), said on every run."""
    check = root / LOCK_DIR.lstrip("/") / "pip-check.txt"
    gaps = [line for line in check.read_text().splitlines() if "requires" in line]
    for line in gaps:
        log(f"WARNING: requirements/test.lock is incomplete for Python {pyver}: {line}")


def run(pytest_args: Sequence[str]) -> int:
    root = prepare()
    pyver = _python_of(root)
    inner = shlex.join(["python", "-m", "tests.debian13", "--inner", *pytest_args])
    _warn_lock_gaps(root, pyver)
    with open(root.with_name(root.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # not removed as stale while it runs
        log(f"pytest under python {pyver} in {root}")
        rc = _nspawn(
            root,
            f"lais-py{pyver.replace('.', '')}-{os.getpid()}",
            f"cd /src && exec {inner}",
            extra=["--volatile=overlay", f"--bind-ro={REPO}:/src"],
        )
    _remove_stale(keep=root)  # after the tests: deleting a root takes a while
    if rc == 5:
        log("pytest collected no tests; that is a failure here")
        return 1
    return rc


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["--inner"]:
        return _inner(argv[1:])
    if os.geteuid() != 0:
        print("tests.debian13 needs root (systemd-nspawn, debootstrap)", file=sys.stderr)
        return 2
    if argv[:1] == ["--prepare"]:
        print(prepare())
        return 0
    return run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

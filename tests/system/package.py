"""Build the .deb for a release inside a booted machine of that release."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.system.machine import TESTBED, Machine, build_image, log

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements/runtime.lock"
PLATFORMS = (
    "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_28_x86_64",
    "manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64",
    "any",
)  # fmt: skip


def image_python(suite: str) -> str:
    """The image's python3 version, e.g. "3.13" (python3 -> python3.13)."""
    target = (build_image(suite) / "usr/bin/python3").readlink().name
    return target.removeprefix("python")


def wheelhouse(pyver: str) -> Path:
    """Wheels for the target interpreter, downloaded on the host (hash-checked)."""
    out = TESTBED / "wheels" / f"py{pyver}"
    tag = pyver.replace(".", "")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--only-binary=:all:",
            "--no-deps",
            "--python-version",
            pyver,
            "--implementation",
            "cp",
            "--abi",
            f"cp{tag}",
            "--abi",
            "abi3",
            "--abi",
            "none",
            *[arg for p in PLATFORMS for arg in ("--platform", p)],
            "-d",
            str(out),
            "-r",
            str(LOCK),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip download for Python {pyver} failed:\n{done.stderr[-3000:]}")
    return out


_SNAPSHOT: list[bytes] = []  # the source, taken once per test run


def source_tarball(dest: Path) -> Path:
    """The checkout's tracked and new (not ignored) files, as the build's source.

    Taken once per run and reused for every release, so both packages are built from
    the same tree even when files change while the (minutes long) run goes on."""
    if not _SNAPSHOT:
        files = (
            subprocess.run(
                ["git", "ls-files", "-co", "--exclude-standard", "-z"],
                cwd=REPO,
                check=True,
                capture_output=True,
            )
            .stdout.decode()
            .split("\0")
        )
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name in filter(None, files):
                path = REPO / name
                if path.exists():
                    tar.add(path, arcname=f"localaistack/{name}", recursive=False)
        _SNAPSHOT.append(buffer.getvalue())
    tarball = dest / "localaistack-src.tar"
    tarball.write_bytes(_SNAPSHOT[0])
    return tarball


@dataclass(frozen=True)
class BuiltPackage:
    suite: str
    deb: Path
    lintian: str
    build_log: str


def build_package(suite: str, out: Path) -> BuiltPackage:
    out.mkdir(parents=True, exist_ok=True)
    pyver = image_python(suite)
    wheels = wheelhouse(pyver)
    source_tarball(out)
    log(f"building the .deb inside {suite} (python {pyver})")
    machine = Machine(
        suite, f"lais-build-{suite}", binds_ro=[(wheels, "/wheels")], binds_rw=[(out, "/out")]
    )
    machine.up()
    try:
        build = machine.exec(
            "/bin/sh",
            "-ec",
            "rm -rf /build && mkdir /build && cd /build && tar -xf /out/localaistack-src.tar && "
            "cd localaistack && LAIS_WHEELHOUSE=/wheels dpkg-buildpackage -b -us -uc 2>&1 && "
            "cp ../localaistack_*.deb /out/",
            check=False,
            timeout=1200,
        )
        if build.returncode != 0:
            raise AssertionError(f"dpkg-buildpackage failed in {suite}:\n{build.stdout[-6000:]}")
        lintian = machine.exec(
            "/bin/sh",
            "-c",
            "lintian --fail-on none --info --display-experimental /build/localaistack_*.deb",
            check=False,
            timeout=600,
        )
    finally:
        machine.down()
    (debs,) = sorted(out.glob("localaistack_*.deb"))
    return BuiltPackage(suite, debs, lintian.stdout + lintian.stderr, build.stdout)

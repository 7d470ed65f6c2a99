"""System-test fixtures: per release, build the .deb in a booted machine of that
release, then boot a fresh machine and install it with apt.

They need root, systemd-nspawn and debootstrap (make test installs both). Set
LAIS_SYSTEM_TESTS=0 to leave them out on a developer machine; CI never does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.machine import SUITES, TESTBED, Machine
from tests.system.package import BuiltPackage, build_package

RESULTS = TESTBED / "results"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("LAIS_SYSTEM_TESTS") == "0":
        skip = pytest.mark.skip(reason="LAIS_SYSTEM_TESTS=0")
        for item in items:
            if "system" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def _system_prerequisites() -> None:
    if os.geteuid() != 0:
        pytest.fail("system tests need root (or set LAIS_SYSTEM_TESTS=0)")
    for tool in ("/usr/bin/systemd-nspawn", "/usr/sbin/debootstrap"):
        if not Path(tool).exists():
            pytest.fail(f"system tests need {tool}; run scripts/dev-env.sh --system")


_PACKAGES: dict[str, BuiltPackage] = {}


def built_package(suite: str) -> BuiltPackage:
    if suite not in _PACKAGES:
        _PACKAGES[suite] = build_package(suite, TESTBED / "out" / suite)
    return _PACKAGES[suite]


@pytest.fixture(scope="module", params=SUITES)
def suite(request: pytest.FixtureRequest, _system_prerequisites: None) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def package(suite: str) -> BuiltPackage:
    return built_package(suite)


@pytest.fixture(scope="module")
def machine(suite: str, package: BuiltPackage, request: pytest.FixtureRequest) -> Iterator[Machine]:
    """A booted machine of ``suite`` with the package installed by apt."""
    name = f"lais-{request.module.__name__.rsplit('.', 1)[-1].replace('_', '-')[:20]}-{suite}"
    booted = Machine(suite, name, binds_ro=[(package.deb.parent, "/debs")])
    booted.up()
    try:
        # as a root shell inside would: a transient unit under the machine's systemd
        booted.run(
            "apt-get",
            "install",
            "-y",
            "-q",
            f"/debs/{package.deb.name}",
            timeout=600,
            env={"DEBIAN_FRONTEND": "noninteractive"},
        )
        yield booted
    except BaseException:
        (RESULTS).mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}.log").write_text(booted.logs())
        raise
    finally:
        booted.down()

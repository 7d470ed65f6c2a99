# Developer verbs. `make test` is the whole suite (what CI runs); it sets up
# everything it needs on a fresh Debian/Ubuntu machine as root.
SHELL := /bin/sh
VENV = $(shell scripts/dev-env.sh)

.PHONY: test unit bus system mutation demo demo-shell deb lint fmt type bench env clean

test:
	scripts/run-tests.sh

unit:
	scripts/run-tests.sh tests/unit

bus:
	scripts/run-tests.sh tests/bus

system:
	scripts/run-tests.sh tests/system

# Every mutant of the pure cores (docs/quality.md); rewrites tests/gates/mutation-baseline.json.
mutation:
	cd $(CURDIR) && $(VENV)/bin/python -m tests.gates.mutation full

# Build the .deb, boot a disposable Debian 13, install it, tour it, tear it down.
demo:
	cd $(CURDIR) && $(VENV)/bin/python -m tests.system.demo

# The same, but keep the machine and open a shell in it (torn down when you exit).
demo-shell:
	cd $(CURDIR) && $(VENV)/bin/python -m tests.system.demo --keep

# Build the package for this machine's release (Debian/Ubuntu with debhelper installed).
deb:
	dpkg-buildpackage -b -us -uc

lint:
	$(VENV)/bin/ruff check lais_agent tests bench
	$(VENV)/bin/ruff format --check lais_agent tests bench

fmt:
	$(VENV)/bin/ruff check --fix lais_agent tests bench
	$(VENV)/bin/ruff format lais_agent tests bench

type:
	$(VENV)/bin/mypy

bench:
	$(VENV)/bin/python bench/run.py

env:
	@echo $(VENV)

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

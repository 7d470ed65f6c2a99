#!/bin/sh
# The whole test suite, what README's test command and .ci/run execute:
#   lint, types; unit and bus tiers under branch coverage (the agent and laisctl processes the
#   bus tests start included) held to the floors in tests/gates/coverage-floors.yaml; the
#   CI-sized mutation run of the pure cores (tests/gates/mutation.py); the system tier (the .deb
#   in booted Debian 12 and 13); the unit and bus tiers again under Debian 13's Python.
# With arguments it runs just `pytest ARGS` after lint and types (no gates).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=$(scripts/dev-env.sh)
export PATH="$venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1

# pytest's exit code 5 (nothing collected) is a failure here
pytest_ok() {
    set +e
    "$@"
    rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then
        echo "run-tests: pytest collected no tests; that is a failure here" >&2
        exit 1
    fi
    [ "$rc" -eq 0 ] || exit "$rc"
}

echo "== ruff"
ruff check lais_agent tests bench
ruff format --check lais_agent tests bench
echo "== mypy --strict lais_agent"
mypy

if [ "$#" -gt 0 ]; then
    echo "== pytest $*"
    pytest_ok python -m pytest "$@"
    exit 0
fi

echo "== pytest: unit and bus tiers, with branch coverage"
# every uid writes here: bus tests run laisctl as plain users through setpriv
LAIS_COVERAGE_DIR=$(mktemp -d /tmp/lais-coverage.XXXXXX)
export LAIS_COVERAGE_DIR
chmod 1777 "$LAIS_COVERAGE_DIR"
trap 'rm -rf "$LAIS_COVERAGE_DIR"' EXIT
pytest_ok coverage run -m pytest -m "not system"
coverage combine -q
coverage json -q -o "$LAIS_COVERAGE_DIR/coverage.json"
echo "== coverage gate (tests/gates/coverage-floors.yaml)"
python -m tests.gates.coverage_floors "$LAIS_COVERAGE_DIR/coverage.json"

echo "== mutation testing of the cores, CI-sized (tests/gates/mutation.py)"
python -m tests.gates.mutation ci

echo "== pytest: system tier (the .deb in booted Debian 12 and 13)"
pytest_ok python -m pytest -m system

echo "== unit and bus tiers under Debian 13's Python"
scripts/run-tests-debian13.sh

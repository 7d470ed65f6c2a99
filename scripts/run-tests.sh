#!/bin/sh
# The whole test suite: lint, types, unit and bus tests (and, as they land,
# system tests). This is what README's test command and .ci/run execute.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=$(scripts/dev-env.sh)
export PATH="$venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1

echo "== ruff"
ruff check lais_agent tests bench
ruff format --check lais_agent tests bench
echo "== mypy --strict lais_agent"
mypy
echo "== pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "run-tests: pytest collected no tests; that is a failure here" >&2
    exit 1
fi
exit "$rc"

#!/bin/sh
# The unit and bus tiers again under Debian 13's Python (3.13), in a prepared Debian 13
# root run with systemd-nspawn (not booted). As root. The root is built on first use and
# cached under /var/cache/localaistack-dev (see tests/debian13.py).
#
#   scripts/run-tests-debian13.sh [PYTEST ARGS]   default: tests/unit tests/bus
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=$(scripts/dev-env.sh)
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m tests.debian13 "$@"

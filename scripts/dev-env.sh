#!/bin/sh
# Prepare a development/test environment on Debian 12/13 or Ubuntu 22.04/24.04, as root.
# Idempotent: installs missing apt packages, then builds (or reuses) a virtualenv
# outside the repository, keyed by the lock files, and prints its path.
#
#   LAIS_DEV_CACHE   where venvs live (default /var/cache/localaistack-dev)
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${LAIS_DEV_CACHE:-/var/cache/localaistack-dev}

# apt: what the tests drive for real (dbus-daemon, busctl, setpriv) and what the
# bundled virtualenv takes from the distribution (python3-dbus/gi/apt/systemd).
APT_PACKAGES="dbus-daemon systemd util-linux python3 python3-venv python3-dev python3-dbus python3-gi python3-systemd python3-apt python3-yaml python3-cryptography gcc git systemd-container debootstrap"
missing=""
for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "dev-env: installing apt packages:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >&2
fi

py=/usr/bin/python3
pyver=$($py -c 'import sys; print("%d.%d" % sys.version_info[:2])')
key=$(cat "$repo/requirements/test.lock" "$repo/requirements/dbusmock.lock" "$repo/pyproject.toml" | sha256sum | cut -c1-12)
venv="$cache/venv-py$pyver-$key"
mkdir -p "$cache"
# one builder at a time: concurrent runs (make unit beside make bus) wait here, then reuse
exec 9>"$cache/.build.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
    echo "dev-env: building $venv" >&2
    rm -rf "$venv.tmp"
    mkdir -p "$cache"
    $py -m venv --system-site-packages "$venv.tmp" >&2
    "$venv.tmp/bin/pip" install -q --disable-pip-version-check --require-hashes \
        -r "$repo/requirements/test.lock" >&2
    "$venv.tmp/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes \
        -r "$repo/requirements/dbusmock.lock" >&2
    rm -rf "$venv"
    mv "$venv.tmp" "$venv"
    # a venv is not relocatable: rewrite the paths baked in while it was being built
    grep -rlF "$venv.tmp" "$venv/bin" | xargs -r sed -i "s|$venv.tmp|$venv|g"
    touch "$venv/.complete"
fi
exec 9>&-
# The project itself, editable, so tests run the checkout (cheap; always redone).
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$repo" >&2
echo "$venv"

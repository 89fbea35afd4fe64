#!/usr/bin/env bash
# Install Debian packages the tests need (PostgreSQL, wrk, Prometheus, ...),
# as root on Debian/Ubuntu; elsewhere say which are missing and stop.
#   ensure-packages.sh COMMAND=PACKAGE ...   e.g. wrk=wrk pg_ctlcluster=postgresql
set -euo pipefail
find_missing() {
  missing=()
  local pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%=*} pkg=${pair#*=}
    if [ "${cmd#/}" != "$cmd" ]; then
      # shellcheck disable=SC2086 # a glob such as /usr/lib/postgresql/*/bin/initdb
      ls $cmd >/dev/null 2>&1 || missing+=("$pkg")
    else
      command -v "$cmd" >/dev/null || missing+=("$pkg")
    fi
  done
}
find_missing "$@"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "[packages] ERROR: missing ${missing[*]}: install them (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
  exit 1
fi
# make test's jobs run side by side, and apt-get refuses to run beside another
# (the dpkg lock): one install at a time, then look again, since the one before
# may have installed these.
exec 9>/run/lock/shipyard-packages.lock
flock 9
find_missing "$@"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[packages] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

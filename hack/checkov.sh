#!/usr/bin/env bash
# Run checkov (pinned) from a virtualenv of its own in the cache: its
# dependencies would clash with ansible-lint's in the project venv.
set -euo pipefail
VERSION=3.3.30
CACHE=${SHIPYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipyard}
venv=$CACHE/checkov-$VERSION
if [ ! -f "$venv/.complete" ]; then
  echo "[checkov] installing checkov $VERSION into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "checkov==$VERSION"
  touch "$venv/.complete"
fi
exec "$venv/bin/checkov" "$@"

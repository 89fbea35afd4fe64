#!/usr/bin/env bash
# Create the project virtualenv with the pinned tooling and install the pinned
# collections. The venv lives in the cache, keyed by the requirement and
# constraint files and the interpreter, and .venv links to it: a second run, or
# a fresh clone on a warm machine, takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${SHIPYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipyard}
# The interpreter: PYTHON when set; else the quickest supported one on PATH
# (hack/pick_python.py: builds of one version differ by a third in CPU time).
if [ -z "${PYTHON:-}" ]; then
  runner=$(command -v python3 || command -v python3.13 || command -v python3.12 || command -v python3.11 || true)
  [ -n "$runner" ] || { echo "[setup] ERROR: python3 (3.11 to 3.13) is required" >&2; exit 1; }
  PYTHON=$("$runner" hack/pick_python.py "$CACHE") || exit 1
else  # the picker takes only supported versions; one given is checked here
  "$PYTHON" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))' ||
    { echo "[setup] ERROR: $PYTHON is $("$PYTHON" -V); ansible-core 2.19 needs Python 3.11 to 3.13 (set PYTHON=...)" >&2; exit 1; }
fi

key=$({ "$PYTHON" -VV; cat requirements-dev.txt constraints-dev.txt app/requirements.txt; } | sha256sum | cut -c1-16)
venv=$CACHE/venv/$key
if [ ! -f "$venv/.complete" ]; then
  echo "[setup] creating $venv (pinned tooling; a minute or two)" >&2
  rm -rf "$venv"
  mkdir -p "$CACHE/venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip==25.2
  "$venv/bin/pip" install -q -r requirements-dev.txt -c constraints-dev.txt
  touch "$venv/.complete"
fi
if [ "$(readlink .venv 2>/dev/null)" != "$venv" ]; then
  rm -rf .venv
  ln -s "$venv" .venv
fi
.venv/bin/python hack/install_collections.py
# This repository is also the collection shipyard.platform (galaxy.yml): its
# plugins, roles and playbooks go by their fully qualified names here as they do
# once installed, through this link in the collections path.
mkdir -p collections/ansible_collections/shipyard
ln -sfn ../../.. collections/ansible_collections/shipyard/platform
# Mitogen's strategy plugins, at a path ansible.cfg names whatever the Python version.
ln -sfn "$(.venv/bin/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')/plugins/strategy" \
  collections/mitogen_strategy

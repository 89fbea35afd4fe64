# shellcheck shell=bash
# Shared paths and helpers for the sandbox scripts. Sourced, never run.

SANDBOX_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SANDBOX_HACK_DIR/../.." && pwd)
# shellcheck source=hack/sandbox/versions.env
. "$SANDBOX_HACK_DIR/versions.env"

SHIPYARD_CACHE=${SHIPYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipyard}
# The recipe hash: pinned versions and build revision. A change rebuilds.
SANDBOX_RECIPE=$(sha256sum <"$SANDBOX_HACK_DIR/versions.env" | cut -c1-12)
SANDBOX_BIN_DIR=${SANDBOX_BIN_DIR:-$SHIPYARD_CACHE/sandbox/bin-$SANDBOX_RECIPE}
SANDBOX_STATE_DIR=${SANDBOX_STATE_DIR:-$REPO_ROOT/.sandbox}

log() { printf '[sandbox] %s\n' "$*" >&2; }
die() { printf '[sandbox] ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck shell=bash
# Shared by the local cluster's scripts (up.sh, down.sh): the sandbox's paths
# and pinned versions, with messages of their own. Sourced, never run.
CLUSTER_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/sandbox/lib.sh
. "$CLUSTER_HACK_DIR/../sandbox/lib.sh"
log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

NAME=shipyard
DIR=$SANDBOX_STATE_DIR

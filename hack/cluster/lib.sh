# shellcheck shell=bash
# Shared by the local cluster's scripts (up.sh, down.sh) and those that start
# clusters beside `make up`'s (bench.sh, tenants_test.sh): the sandbox's paths
# and pinned versions, with messages of their own. Sourced, never run.
CLUSTER_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/sandbox/lib.sh
. "$CLUSTER_HACK_DIR/../sandbox/lib.sh"
log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

NAME=shipyard
DIR=$SANDBOX_STATE_DIR

# A port on 127.0.0.1 that is free now: for a cluster beside another (up.sh --port, --app-port, --tenant-port).
free_port() { python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from appserver import free_port; print(free_port())' "$CLUSTER_HACK_DIR/.."; }
# site_target NAME DIR: the site's extra vars that point it at the local cluster NAME of up.sh --dir DIR,
# not at its inventory's: its kubeconfig and context, and its node's containerd for the app's image.
site_target() {
  printf '{"shipyard_kubeconfig": "%s", "shipyard_kube_context": "local-%s", "image_build_node_containers": ["%s-node"]}' \
    "$2/kubeconfig" "$1" "$1"
}

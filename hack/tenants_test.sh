#!/usr/bin/env bash
# make tenants-test: inventories/tenants (two tenants) on a local cluster of its
# own, a real node and a simulated one like `make up`'s, so that its tests run
# beside those of the default cluster (tests/cluster) without sharing one:
#   1. start a fresh cluster NAME (SHIPYARD_TENANTS_CLUSTER, default
#      shipyard-tenants) in .cache/clusters/NAME, on free loopback ports;
#   2. converge the site on it as a user would (`make up ENV=tenants`, pointed at
#      that cluster by its kubeconfig, context and node) and check tenant-a's
#      app on the host through its NodePort;
#   3. prove the tenants' isolation on running containers (tests/tenants);
#   4. the user's way out: playbooks/teardown.yml;
#   5. remove the cluster, also when a step failed.
# `hack/tenants_test.sh remove` removes it only (what a stopped run leaves: make test's undo).
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg PATH=$PWD/.venv/bin:$PATH
# shellcheck source=hack/cluster/lib.sh
. hack/cluster/lib.sh # free_port, site_target
name=${SHIPYARD_TENANTS_CLUSTER:-shipyard-tenants}
dir=$PWD/.cache/clusters/$name
export PATH=$dir/bin:$PATH # kubectl, as `make` puts .sandbox/bin on it
say() { echo "[tenants-test] $*"; }
remove() { hack/cluster/down.sh --name "$name" --dir "$dir"; }

case ${1:-} in
  remove) remove; exit ;;
  '') ;;
  *) echo "usage: $0 [remove]" >&2; exit 2 ;;
esac
remove >/dev/null # what a stopped run left
trap 'say "removing the cluster $name"; remove || true' EXIT
api_port=$(free_port) app_port=$(free_port) tenant_port=$(free_port)
hack/cluster/up.sh --name "$name" --dir "$dir" --port "$api_port" --app-port "$app_port" --tenant-port "$tenant_port"

# The inventory's cluster variables, pointed at this cluster (extra vars win over the inventory's).
target=$(site_target "$name" "$dir")
started=$(date +%s%N)
ansible-playbook -i inventories/tenants playbooks/site.yml -e "$target"
say "first converge of the two tenants: $(( ($(date +%s%N) - started) / 1000000 )) ms"
hack/cluster/check-app.sh "$tenant_port"

rc=0
SHIPYARD_TEST_CLUSTER=$name SHIPYARD_TEST_CLUSTER_DIR=$dir pytest -q --durations=15 tests/tenants || rc=1
ansible-playbook -i inventories/tenants playbooks/teardown.yml -e shipyard_teardown_confirm=yes -e "$target" || rc=1
exit $rc

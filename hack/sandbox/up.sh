#!/usr/bin/env bash
# Start a sandbox Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver
# (RBAC, service-account tokens, default admission plugins incl. PodSecurity),
# kube-controller-manager, kube-scheduler, and KWOK simulating the nodes, from
# the pinned binaries of build.sh. Writes the admin kubeconfig to DIR/kubeconfig.
# A second call on a running sandbox returns at once.
#
#   up.sh [--name NAME] [--port PORT] [--dir DIR] [--nodes N] [--apiserver-arg KEY=VALUE]...
#   defaults: shipyard, $SHIPYARD_SANDBOX_PORT or 16443, .sandbox, 1
#   --port 0 picks a free port. --apiserver-arg adds a kube-apiserver flag (tests
#   that need an odd cluster, such as one whose API server publishes no endpoints).
set -euo pipefail
# shellcheck source=hack/sandbox/lib.sh
. "$(dirname "$0")/lib.sh"

NAME=shipyard
PORT=${SHIPYARD_SANDBOX_PORT:-16443}
DIR=$SANDBOX_STATE_DIR
NODES=1
EXTRA_ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --name) NAME=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --apiserver-arg) EXTRA_ARGS+=(--extra-args "kube-apiserver=$2"); shift 2 ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
done
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
KUBECONFIG_OUT=$DIR/kubeconfig
export KWOK_WORKDIR=$DIR/kwok

start_ns=$(date +%s%N)
took() { echo "$(( ($(date +%s%N) - start_ns) / 1000000 ))ms"; }

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl; do
  [ -x "$SANDBOX_BIN_DIR/$b" ] || die "$b is missing in $SANDBOX_BIN_DIR: run 'make cluster-build' (hack/sandbox/build.sh) first"
done
# Convenience links: `make` puts .sandbox/bin on PATH (kubectl, kind, helm...).
mkdir -p "$DIR/bin"
for b in "$SANDBOX_BIN_DIR"/*; do ln -sfn "$b" "$DIR/bin/$(basename "$b")"; done
kubectl() { "$SANDBOX_BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

# Storage: the sandbox has no disks, so no dynamic provisioner either. A default
# StorageClass and a pool of pre-provisioned PersistentVolumes (static
# provisioning, as an admin would do) let claims bind through the real
# PersistentVolume controller, so StatefulSets schedule. Topped up on every call.
SANDBOX_PV_POOL=${SHIPYARD_SANDBOX_PV_POOL:-8}
ensure_volumes() {
  kubectl apply -f - >/dev/null <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: sandbox
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
YAML
  local available missing
  available=$(kubectl get pv -l shipyard.dev/sandbox-pool=true \
    -o jsonpath='{range .items[?(@.status.phase=="Available")]}{.metadata.name}{"\n"}{end}' | grep -c . || true)
  missing=$((SANDBOX_PV_POOL - available))
  [ "$missing" -gt 0 ] || return 0
  # All of them in one call (a List, each named by the API server): a kubectl
  # call costs about 0.12 s here.
  local volumes=""
  for _ in $(seq 1 "$missing"); do
    volumes+="
- apiVersion: v1
  kind: PersistentVolume
  metadata:
    generateName: sandbox-pv-
    labels:
      shipyard.dev/sandbox-pool: \"true\"
  spec:
    storageClassName: sandbox
    capacity:
      storage: 100Gi
    accessModes: [ReadWriteOnce]
    persistentVolumeReclaimPolicy: Retain
    hostPath:
      path: /var/lib/sandbox-volumes
      type: DirectoryOrCreate"
  done
  printf 'apiVersion: v1\nkind: List\nitems:%s\n' "$volumes" | kubectl create -f - >/dev/null
}

if [ -f "$KUBECONFIG_OUT" ] && kubectl get --raw /readyz --request-timeout=3s >/dev/null 2>&1; then
  ensure_volumes
  log "sandbox '$NAME' is already running ($(took)): export KUBECONFIG=$KUBECONFIG_OUT"
  exit 0
fi

# A stale cluster (machine restarted, processes gone): clear it and start anew.
if [ -d "$KWOK_WORKDIR/clusters/$NAME" ]; then
  log "clearing the stopped sandbox '$NAME'"
  "$SANDBOX_BIN_DIR/kwokctl" delete cluster --name "$NAME" >/dev/null 2>&1 || true
  rm -rf "${KWOK_WORKDIR:?}/clusters/$NAME" "$KUBECONFIG_OUT"
fi

# One creation at a time on this machine: a free port is chosen here and by
# kwokctl for each component, and bound only when that component starts; two
# sandboxes created at once (parallel Molecule scenarios) can pick the same.
mkdir -p "$SHIPYARD_CACHE/sandbox"
exec 9>"$SHIPYARD_CACHE/sandbox/create.lock"
flock 9
# The components kwokctl starts inherit the descriptor: unlock explicitly (the
# lock belongs to the open file, so that frees it for them too), also on errors.
trap 'flock -u 9 2>/dev/null || true' EXIT

if [ "$PORT" = 0 ]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
else
  port_taken "$PORT" "the sandbox's API" SHIPYARD_SANDBOX_PORT
fi

cat >"$DIR/kwokctl.yaml" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeApiserverPort: $PORT
  kubeAuthorization: true
  kubeAdmission: true
  securePort: true
  kubeApiserverBinary: $SANDBOX_BIN_DIR/kube-apiserver
  kubeControllerManagerBinary: $SANDBOX_BIN_DIR/kube-controller-manager
  kubeSchedulerBinary: $SANDBOX_BIN_DIR/kube-scheduler
  kubectlBinary: $SANDBOX_BIN_DIR/kubectl
  etcdBinary: $SANDBOX_BIN_DIR/etcd
  kwokControllerBinary: $SANDBOX_BIN_DIR/kwok
YAML

log "starting sandbox '$NAME' on https://127.0.0.1:$PORT (Kubernetes $KUBE_VERSION, simulated nodes)"
if ! "$SANDBOX_BIN_DIR/kwokctl" create cluster --name "$NAME" --config "$DIR/kwokctl.yaml" \
  --kubeconfig "$KUBECONFIG_OUT" --wait 120s "${EXTRA_ARGS[@]}" >"$DIR/create.log" 2>&1; then
  cat "$DIR/create.log" >&2
  die "kwokctl could not start the sandbox; its logs are under $KWOK_WORKDIR/clusters/$NAME/logs"
fi
chmod 0600 "$KUBECONFIG_OUT"

"$SANDBOX_BIN_DIR/kwokctl" scale node --name "$NAME" --replicas "$NODES" >>"$DIR/create.log" 2>&1 ||
  die "could not create simulated nodes; see $DIR/create.log"
kubectl wait --for=condition=Ready node --all --timeout=60s >/dev/null ||
  die "the simulated nodes did not become Ready"
# The default ServiceAccount appears once the controller-manager runs: wait so
# that pods can be created right away.
for _ in $(seq 1 60); do
  kubectl -n default get serviceaccount default >/dev/null 2>&1 && break
  sleep 0.5
done
ensure_volumes || die "could not create the sandbox's StorageClass and volumes"
echo "$PORT" >"$DIR/port"
flock -u 9
log "sandbox '$NAME' ready in $(took): export KUBECONFIG=$KUBECONFIG_OUT (pods are simulated by KWOK: they are scheduled and report Ready, but no container runs; claims bind to pre-provisioned volumes)"

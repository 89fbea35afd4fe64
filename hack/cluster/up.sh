#!/usr/bin/env bash
# Start the local cluster: one Docker container (no --privileged) that holds a
# whole Kubernetes cluster in its own network namespace, with a REAL node
# (containerd, runc, CNI bridge, kube-proxy, kube-router for NetworkPolicy,
# CoreDNS) and simulated nodes (kwok) beside it. The API answers on
# 127.0.0.1:PORT; the admin kubeconfig goes to DIR/kubeconfig.
#
#   up.sh [--name NAME] [--port PORT] [--app-port PORT] [--tenant-port PORT] [--dir DIR] [--simulated-nodes N]
#   defaults: shipyard, $SHIPYARD_SANDBOX_PORT or 16443, $SHIPYARD_APP_PORT or 8080,
#             $SHIPYARD_TENANT_PORT or 8081, .sandbox, 1
# A running cluster with a component down is given $SHIPYARD_CLUSTER_HEALTH_WAIT
# seconds (default 60) to recover under its supervisor, then named.
#
# --app-port publishes the node's port 30080 (a NodePort: the sandbox inventory's
# app) on 127.0.0.1, --tenant-port its port 30081 (inventories/tenants' tenant-a),
# so that both inventories can run on one cluster. Both are fixed when the
# cluster is created.
# A running cluster returns at once; a stopped one (machine restart, `docker
# stop`) is started again from its own data, never replaced by an empty one.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/lib.sh
. "$HERE/lib.sh"

PORT=${SHIPYARD_SANDBOX_PORT:-16443}
APP_PORT=${SHIPYARD_APP_PORT:-8080}
TENANT_PORT=${SHIPYARD_TENANT_PORT:-8081}
SIMULATED=1
while [ $# -gt 0 ]; do
  case $1 in
    --name) NAME=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --app-port) APP_PORT=$2; shift 2 ;;
    --tenant-port) TENANT_PORT=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --simulated-nodes) SIMULATED=$2; shift 2 ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
done
[[ $NAME =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] || die "--name must be a DNS label of at most 32 characters, not '$NAME'"
CONTAINER=$NAME-node
NODE=$NAME-node
CONTEXT=local-$NAME
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
KUBECONFIG_OUT=$DIR/kubeconfig
start_ns=$(date +%s%N)
took() { echo "$(( ($(date +%s%N) - start_ns) / 1000000 ))ms"; }
kubectl() { "$SANDBOX_BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_OUT" --request-timeout 10s "$@"; }

docker info >/dev/null 2>&1 || die "no Docker engine answers: the local cluster runs in a container; run 'make docker' (hack/docker-engine.sh)"
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy etcd kwok; do
  [ -x "$SANDBOX_BIN_DIR/$b" ] || die "$b is missing in $SANDBOX_BIN_DIR: run 'make cluster-build' (hack/sandbox/build.sh) first"
done
KUBE_ROUTER_DIR=$("$HERE/../tools/build.sh" kube-router)

# Convenience links: `make` puts .sandbox/bin on PATH (kubectl, kind, helm...).
mkdir -p "$DIR/bin"
for b in "$SANDBOX_BIN_DIR"/*; do ln -sfn "$b" "$DIR/bin/$(basename "$b")"; done

state() {
  local s
  s=$(docker container inspect -f '{{ .State.Status }}' "$CONTAINER" 2>/dev/null) || s=absent
  echo "$s"
}

write_kubeconfig() {
  local port
  port=$(docker port "$CONTAINER" 6443/tcp | head -1 | awk -F: '{ print $NF }')
  [ -n "$port" ] || die "the API port of $CONTAINER is not published"
  docker exec "$CONTAINER" kubectl --kubeconfig /var/lib/shipyard/pki/admin.kubeconfig config view --raw --flatten -o json |
    python3 -c '
import json, sys
port, name, context = sys.argv[1:]
c = json.load(sys.stdin)
c["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
c["contexts"][0]["name"] = c["current-context"] = context
json.dump(c, sys.stdout, indent=2)
' "$port" "$NAME" "$CONTEXT" >"$KUBECONFIG_OUT.tmp"
  chmod 0600 "$KUBECONFIG_OUT.tmp"
  mv "$KUBECONFIG_OUT.tmp" "$KUBECONFIG_OUT"
  echo "$port" >"$DIR/port"
}

wait_started() {
  local i
  for i in $(seq 1 240); do
    if [ "$(state)" != running ]; then
      docker logs --tail 30 "$CONTAINER" >&2 || true
      die "the node container $CONTAINER stopped while starting (its log is above)"
    fi
    docker exec "$CONTAINER" test -f /run/shipyard/started 2>/dev/null && return 0
    sleep 0.5
  done
  docker logs --tail 30 "$CONTAINER" >&2 || true
  die "the cluster did not start in 120 s; components: docker exec $CONTAINER shipyard-node status"
}

# One up.sh at a time per cluster (two `make up` started together): the second
# waits, then finds the cluster the first one made.
mkdir -p "$SHIPYARD_CACHE/cluster"
exec 9>"$SHIPYARD_CACHE/cluster/$NAME.lock"
if ! flock -n 9; then
  log "another up.sh is starting cluster '$NAME'; waiting for it"
  flock 9
fi

# Storage: a default StorageClass and a pool of volumes, each its own folder on
# the node (in its state volume, so data outlives pods and node restarts).
# Static provisioning, topped up on every call, also on a running cluster: a
# volume whose claim was deleted (teardown, a removed tenant) is Released and
# never bound again, so it is deleted with its folder and a new one takes its place.
top_up_volumes() {
  local pool=${SHIPYARD_SANDBOX_PV_POOL:-8} available released new=() pv
  kubectl apply --server-side --field-manager shipyard-cluster -f - >/dev/null <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
YAML
  released=$(kubectl get pv -l shipyard.dev/local-pool=true \
    -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}')
  for pv in $released; do
    kubectl delete pv "$pv" --wait=false >/dev/null && docker exec "$CONTAINER" rm -rf "/var/lib/shipyard/volumes/$pv"
  done
  available=$(kubectl get pv -l shipyard.dev/local-pool=true \
    -o jsonpath='{range .items[?(@.status.phase=="Available")]}{.metadata.name}{"\n"}{end}' | grep -c . || true)
  for _ in $(seq 1 $((pool - available))); do new+=("pv-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"); done
  [ ${#new[@]} -gt 0 ] || return 0
  docker exec "$CONTAINER" install -d -m 0777 "${new[@]/#//var/lib/shipyard/volumes/}"
  for pv in "${new[@]}"; do
    cat <<YAML
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  labels:
    shipyard.dev/local-pool: "true"
spec:
  storageClassName: local
  capacity:
    storage: 100Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath:
    path: /var/lib/shipyard/volumes/$pv
    type: Directory
YAML
  done | kubectl create -f - >/dev/null
}

case $(state) in
  running)
    if kubectl get --raw /readyz >/dev/null 2>&1 && docker exec "$CONTAINER" shipyard-node status >/dev/null; then
      # Stand-ins a newer checkout added or changed since the node started: build
      # them and import their archives (mounted at /images) as its entrypoint does.
      "$HERE/images.sh" >/dev/null || die "building the cluster's images failed"
      docker exec "$CONTAINER" sh -ec '
        for archive in /images/*.tar; do
          mark=/var/lib/shipyard/imported/$(basename "$archive")
          [ -f "$mark" ] && continue
          ctr -n k8s.io images import --no-unpack "$archive" >/dev/null && touch "$mark"
          echo "imported $(basename "$archive")"
        done
        while read -r src dst; do ctr -n k8s.io images tag --force "$src" "$dst" >/dev/null; done </images/tags' >&2 ||
        die "importing the images into $CONTAINER failed"
      top_up_volumes
      log "cluster '$NAME' is already running ($(took)): export KUBECONFIG=$KUBECONFIG_OUT"
      exit 0
    fi
    # A component that exited comes back under its supervisor within seconds;
    # one that is stopped (SIGSTOP) or keeps failing is named, not papered over.
    wait_s=${SHIPYARD_CLUSTER_HEALTH_WAIT:-60}
    log "cluster '$NAME' runs but is not healthy; waiting up to $wait_s s for its components"
    for _ in $(seq 1 "$wait_s"); do
      docker exec "$CONTAINER" shipyard-node status >/dev/null 2>&1 && kubectl get --raw /readyz >/dev/null 2>&1 && break
      sleep 1
    done
    if ! docker exec "$CONTAINER" shipyard-node status >&2; then
      die "cluster '$NAME' has components that are not running (above); their logs: docker exec $CONTAINER ls /var/log/shipyard. Restart the whole node from its data with 'docker restart $CONTAINER'"
    fi ;;
  exited | created)
    log "starting the stopped cluster '$NAME' from its own data"
    docker start "$CONTAINER" >/dev/null || die "docker could not start $CONTAINER"
    wait_started ;;
  absent)
    port_taken "$PORT" "Kubernetes API" SHIPYARD_SANDBOX_PORT
    port_taken "$APP_PORT" "the app" SHIPYARD_APP_PORT
    port_taken "$TENANT_PORT" "a tenant's app" SHIPYARD_TENANT_PORT
    IMAGES=$("$HERE/images.sh")
    # Every capability this machine can grant, by name (Docker 20.10 does not know
    # BPF, PERFMON, CHECKPOINT_RESTORE); SYS_RESOURCE is not in the bounding set.
    caps=()
    for c in $(python3 - <<'PY'
names = """CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
WAKE_ALARM BLOCK_SUSPEND AUDIT_READ""".split()
bounding = int(next(l for l in open("/proc/self/status") if l.startswith("CapBnd")).split()[1], 16)
print(" ".join(n for i, n in enumerate(names) if bounding >> i & 1))
PY
    ); do caps+=(--cap-add "$c"); done
    log "creating cluster '$NAME' (Kubernetes $KUBE_VERSION, a real node and $SIMULATED simulated) on https://127.0.0.1:$PORT"
    docker run -d --name "$CONTAINER" --hostname "$NODE" \
      --label org.shipyard.cluster="$NAME" --restart unless-stopped \
      "${caps[@]}" \
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw --device /dev/kmsg \
      --tmpfs /run --tmpfs /tmp --tmpfs /var/lib/cni \
      -v "$CONTAINER-state:/var/lib/shipyard" -v "$CONTAINER-containerd:/var/lib/containerd" -v "$CONTAINER-kubelet:/var/lib/kubelet" \
      -v "$SANDBOX_BIN_DIR:/opt/shipyard/bin:ro" -v "$KUBE_ROUTER_DIR:/opt/shipyard/tools:ro" -v "$IMAGES:/images:ro" \
      -e SHIPYARD_CLUSTER_NAME="$NAME" \
      -p "127.0.0.1:$PORT:6443" -p "127.0.0.1:$APP_PORT:30080" -p "127.0.0.1:$TENANT_PORT:30081" \
      localhost/shipyard/node:latest >/dev/null || die "docker could not create $CONTAINER"
    wait_started ;;
  *) die "the node container $CONTAINER is $(state); remove it with 'make sandbox-down'" ;;
esac

write_kubeconfig
for _ in $(seq 1 60); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 0.5; done
kubectl get --raw /readyz >/dev/null 2>&1 || die "the API does not answer on 127.0.0.1:$(cat "$DIR/port")"

# Simulated nodes: annotated for kwok, labelled and tainted so that only
# workloads that ask for them (nodeSelector + toleration) land there.
for i in $(seq 1 "$SIMULATED"); do
  kubectl apply --server-side --field-manager shipyard-cluster -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $NAME-simulated-$i
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    type: kwok
    node.shipyard.dev/simulated: "true"
    kubernetes.io/hostname: $NAME-simulated-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
spec:
  taints:
    - key: node.shipyard.dev/simulated
      value: "true"
      effect: NoSchedule
YAML
done

top_up_volumes

kubectl wait --for=condition=Ready node --all --timeout=90s >/dev/null ||
  die "not every node became Ready: $(kubectl get nodes --no-headers 2>&1 | tr '\n' ';')"
kubectl -n kube-system rollout status deployment/coredns --timeout=90s >/dev/null ||
  die "CoreDNS did not become available: kubectl -n kube-system describe pod -l k8s-app=kube-dns"
for _ in $(seq 1 60); do
  kubectl -n default get serviceaccount default >/dev/null 2>&1 && break
  sleep 0.5
done
log "cluster '$NAME' ready in $(took): export KUBECONFIG=$KUBECONFIG_OUT (context $CONTEXT; node $NODE runs real containers, $SIMULATED simulated node(s) for workloads placed there; NodePorts 30080 on 127.0.0.1:$APP_PORT, 30081 on 127.0.0.1:$TENANT_PORT)"

#!/bin/bash
# PID 1 (under tini) of the local cluster's node container: a whole Kubernetes
# cluster in one network namespace. It runs, each under a supervisor that
# restarts it when it exits:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler (control plane)
#   containerd, kubelet, kube-proxy (iptables), kube-router (NetworkPolicy only)
#   kwok (simulates the nodes annotated kwok.x-k8s.io/node=fake)
# and applies CoreDNS. State (PKI, etcd, containerd, kubelet, volumes) lives
# under /var/lib/shipyard, /var/lib/containerd and /var/lib/kubelet, which are
# volumes: a restarted container comes back with the same cluster.
#
# Environment: SHIPYARD_CLUSTER_NAME (default shipyard).
set -euo pipefail

NAME=${SHIPYARD_CLUSTER_NAME:-shipyard}
NODE=$NAME-node
STATE=/var/lib/shipyard
PKI=$STATE/pki
LOGS=/var/log/shipyard
CONF=/etc/shipyard
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
CGROUP_ROOT=/shipyard-$NAME

log() { printf '[node] %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*"; exit 1; }

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy kube-router kwok)

status() {
  local c pid bad=0
  for c in "${COMPONENTS[@]}"; do
    pid=$(cat "/run/shipyard/$c.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      # Field 3 of /proc/PID/stat is the state; T is stopped (SIGSTOP): alive, answering nothing.
      if [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = T ]; then
        printf '%-24s STOPPED by a signal (pid %s): resume it with kill -CONT %s\n' "$c" "$pid" "$pid"
        bad=1
        continue
      fi
      printf '%-24s running (pid %s, restarts %s)\n' "$c" "$pid" "$(cat "$LOGS/$c.restarts" 2>/dev/null | wc -l)"
    else
      printf '%-24s NOT RUNNING (log: %s/%s.log)\n' "$c" "$LOGS" "$c"
      bad=1
    fi
  done
  return $bad
}
if [ "${1:-}" = status ]; then
  status
  exit $?
fi


mkdir -p "$STATE" "$PKI" "$LOGS" /etc/cni/net.d /etc/containerd
NODE_IP=$(ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }')
[ -n "$NODE_IP" ] || die "eth0 has no IPv4 address: the node needs one that is not loopback"
log "cluster '$NAME', node '$NODE' at $NODE_IP"

# --- the container as a machine -----------------------------------------------
# Mount propagation for volumes of pods, a machine id for kubelet.
mount --make-rshared /
[ -s /etc/machine-id ] || tr -d '-' </proc/sys/kernel/random/uuid >/etc/machine-id

# kubelet sets a few kernel-wide tunables (vm.overcommit_memory, kernel.panic,
# ...) that no namespace isolates. Show it the values it wants, read-only, so
# it has nothing to write and the machine's own values stay as they are.
fake_sysctl() { # path value
  local f=/run/shipyard/sysctl/${1//\//_}
  mkdir -p /run/shipyard/sysctl
  echo "$2" >"$f"
  mountpoint -q "/proc/sys/$1" || mount --bind -o ro "$f" "/proc/sys/$1"
}
fake_sysctl vm/overcommit_memory 1
fake_sysctl vm/panic_on_oom 0
fake_sysctl kernel/panic 10
fake_sysctl kernel/panic_on_oops 1
fake_sysctl kernel/keys/root_maxkeys 1000000
fake_sysctl kernel/keys/root_maxbytes 25000000
# Namespaced: this container's own forwarding and bridge filtering.
echo 1 >/proc/sys/net/ipv4/ip_forward

# No packet for an address the cluster does not own leaves this machine: the
# private ranges go nowhere unless a more specific route (the pods' bridge,
# Docker's network) says otherwise. Simulated pods (kwok gives them 10.0.0.x)
# and pods that no longer exist are then unreachable here, not looked for
# beyond the host.
for range in 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 169.254.0.0/16; do
  ip route replace blackhole "$range"
done

# The host's cgroup hierarchies are mounted here (cgroup v1, cgroupfs driver):
# the pods of this cluster go below a folder of its own in each of them. After
# a restart, the folders of the pods that ran before are empty (their
# processes ended with the old container): remove them, deepest first.
# Only real cgroup mounts count: the host's /sys/fs/cgroup may also hold plain
# folders (a systemd in another container makes them, and remounts the tmpfs
# read-only).
for h in $(findmnt -rn -t cgroup,cgroup2 -o TARGET | grep '^/sys/fs/cgroup/'); do
  if [ -d "$h$CGROUP_ROOT" ]; then
    find "$h$CGROUP_ROOT" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
  fi
  [ "$(basename "$h")" = unified ] && continue
  mkdir -p "$h$CGROUP_ROOT"
done
if [ -d /sys/fs/cgroup/cpuset ]; then
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.mems"
fi

# --- PKI: made once, kept in the state volume -----------------------------------
cert() { # name CN O(optional) kind(client|server) [SANs]
  local name=$1 cn=$2 org=$3 kind=$4 sans=${5:-} ext
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ "$kind" = server ]; then echo "extendedKeyUsage=serverAuth"; else echo "extendedKeyUsage=clientAuth"; fi
    [ -n "$sans" ] && echo "subjectAltName=$sans"
  } >"$ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "/CN=$cn${org:+/O=$org}" -out "$PKI/$name.csr"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext" "$PKI/$name.csr"
  chmod 0600 "$PKI/$name.key"
}
kubeconfig() { # name (of the client cert); writes $PKI/name.kubeconfig for 127.0.0.1:6443
  cat >"$PKI/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $NAME
    cluster:
      certificate-authority: $PKI/ca.crt
      server: https://127.0.0.1:6443
users:
  - name: $1
    user:
      client-certificate: $PKI/$1.crt
      client-key: $PKI/$1.key
contexts:
  - name: $NAME
    context: {cluster: $NAME, user: $1}
current-context: $NAME
EOF
}
if [ ! -f "$PKI/.complete" ]; then
  log "making the cluster's PKI"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=shipyard-$NAME-ca" -days 3650 -out "$PKI/ca.crt"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  cert admin kubernetes-admin system:masters client
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters client
  cert controller-manager system:kube-controller-manager "" client
  cert scheduler system:kube-scheduler "" client
  cert kubelet "system:node:$NODE" system:nodes client
  cert kube-proxy system:kube-proxy "" client
  # kube-router and kwok watch and patch across the cluster: test engines of this
  # cluster only, never deployed to users' clusters.
  cert kube-router shipyard:kube-router system:masters client
  cert kwok shipyard:kwok system:masters client
  for c in admin controller-manager scheduler kubelet kube-proxy kube-router kwok; do kubeconfig "$c"; done
  chmod 0600 "$PKI"/ca.key "$PKI"/sa.key
  touch "$PKI/.complete"
fi
# The serving certificate names this start's address (a restart may bring a new one).
cert apiserver kube-apiserver "" server \
  "IP:127.0.0.1,IP:$NODE_IP,IP:$API_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"

# --- configuration --------------------------------------------------------------
cat >/etc/containerd/config.toml <<EOF
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # This machine lacks CAP_SYS_RESOURCE: without this every sandbox fails in runc.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
EOF

cat >/etc/cni/net.d/10-shipyard.conflist <<EOF
{
  "cniVersion": "0.4.0",
  "name": "shipyard",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$NODE_POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# The disk is the machine's: keep evictions for when it is really full.
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
EOF

cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE
# 0: leave the machine-wide conntrack table size alone.
conntrack: {maxPerCore: 0}
EOF

# --- supervision ----------------------------------------------------------------
# Each component runs in a loop that restarts it when it exits, with its log in
# $LOGS/<name>.log; `shipyard-node status` (docker exec) reports them.
supervise() { # name command...
  local name=$1; shift
  (
    trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM
    while :; do
      "$@" >>"$LOGS/$name.log" 2>&1 &
      child=$!
      echo "$child" >"/run/shipyard/$name.pid"
      wait "$child" && rc=0 || rc=$?
      echo "$(date -u +%FT%TZ) exited with $rc; restarting" >>"$LOGS/$name.restarts"
      sleep 2
    done
  ) &
  echo $! >"/run/shipyard/$name.supervisor"
}
stop_all() {
  log "stopping"
  local i
  # In the reverse of COMPONENTS: the node's parts first, etcd last.
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    kill -TERM "$(cat "/run/shipyard/${COMPONENTS[i]}.supervisor" 2>/dev/null)" 2>/dev/null || true
  done
  wait
  exit 0
}
trap stop_all TERM INT
mkdir -p /run/shipyard

# --- control plane --------------------------------------------------------------
supervise etcd etcd --name "$NAME" --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster "$NAME=http://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381

supervise kube-apiserver kube-apiserver \
  --etcd-servers http://127.0.0.1:2379 \
  --bind-address 0.0.0.0 --secure-port 6443 --advertise-address "$NODE_IP" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false

apiserver() { kubectl --kubeconfig "$PKI/admin.kubeconfig" "$@"; }
for i in $(seq 1 120); do
  apiserver get --raw /readyz >/dev/null 2>&1 && break
  [ "$i" = 120 ] && die "kube-apiserver did not become ready in 60 s; see $LOGS/kube-apiserver.log"
  sleep 0.5
done
log "API server ready"

supervise kube-controller-manager kube-controller-manager \
  --kubeconfig "$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
  --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" --cluster-cidr "$POD_CIDR" --allocate-node-cidrs=false

supervise kube-scheduler kube-scheduler \
  --kubeconfig "$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
  --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false

# --- the node -------------------------------------------------------------------
supervise containerd containerd --config /etc/containerd/config.toml
for i in $(seq 1 60); do
  [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && break
  [ "$i" = 60 ] && die "containerd did not start; see $LOGS/containerd.log"
  sleep 0.5
done
# Images handed in at creation (docker save archives): the node's own (pause,
# CoreDNS) and the stand-ins. The app's image comes later, the same way
# (image_build_target=node: docker save into ctr import).
# An archive is imported once: its name carries the image ID, and containerd
# keeps what it imported in its volume across restarts.
#
# The images named in /images/unpack (the shared Debian base, then the
# stand-ins) are unpacked into the snapshotter once, in that order, as a node
# image's preloaded images come unpacked. Otherwise the first pod to start on
# an image unpacks it while the pod waits: in a first converge PostgreSQL's
# container took 8.7 s to create (its own layers, then 490 MB), the
# frontend's 2 s, and the pods that start beside them would unpack the base
# again. They are imported first, and each is unpacked in the background as
# soon as it is in, while the next archives are imported (the imports take
# about 20 s, the unpacks about 8 s): the node starts with them unpacked.
mkdir -p "$STATE/imported"
ordered=()
if [ -f /images/unpack ]; then
  while read -r ref archive; do # the image and its archive, as images.sh named it
    [ -n "$ref" ] && ordered+=("/images/$archive")
  done </images/unpack
fi
for archive in /images/*.tar; do
  [[ " ${ordered[*]} " == *" $archive "* ]] || ordered+=("$archive")
done
if [ -f /images/unpack ]; then
  while read -r ref _; do
    [ -n "$ref" ] || continue
    digest=
    for _ in $(seq 1 600); do # until its archive is imported
      digest=$(ctr -n k8s.io images list "name==$ref" 2>/dev/null | awk 'NR == 2 {print $3}')
      [ -n "$digest" ] && break
      sleep 0.2
    done
    [ -n "$digest" ] || { echo "no image $ref to unpack"; continue; }
    start=$(date +%s%N)
    ctr -n k8s.io snapshots unpack "$digest" && echo "unpacked $ref in $((($(date +%s%N) - start) / 1000000)) ms"
  done </images/unpack >"$LOGS/unpack.log" 2>&1 &
fi
for archive in "${ordered[@]}"; do
  [ -f "$archive" ] || continue
  [ -f "$STATE/imported/$(basename "$archive")" ] && continue
  ctr -n k8s.io images import --no-unpack "$archive" >/dev/null || die "could not import $archive"
  touch "$STATE/imported/$(basename "$archive")"
done
if [ -f /images/tags ]; then
  while read -r src dst; do
    [ -n "$src" ] && ctr -n k8s.io images tag --force "$src" "$dst" >/dev/null
  done </images/tags
fi

supervise kubelet kubelet --config "$STATE/kubelet.yaml" --kubeconfig "$PKI/kubelet.kubeconfig" \
  --hostname-override "$NODE" --node-ip "$NODE_IP" --v 1
supervise kwok kwok --kubeconfig "$PKI/kwok.kubeconfig" --config "$CONF/kwok-stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --node-ip "$NODE_IP" --node-name "$NODE" --node-port 10247 --server-address 127.0.0.1:10247 \
  --node-lease-duration-seconds 40 \
  --tls-cert-file "$PKI/kwok.crt" --tls-private-key-file "$PKI/kwok.key"

# --- cluster add-ons ------------------------------------------------------------
for i in $(seq 1 120); do
  apiserver get node "$NODE" >/dev/null 2>&1 && break
  [ "$i" = 120 ] && die "kubelet did not register node $NODE in 60 s; see $LOGS/kubelet.log"
  sleep 0.5
done
# The network components read the Node object: started once it exists.
supervise kube-proxy kube-proxy --config "$STATE/kube-proxy.yaml"
supervise kube-router kube-router --kubeconfig "$PKI/kube-router.kubeconfig" \
  --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
  --hostname-override "$NODE" --service-cluster-ip-range "$SERVICE_CIDR" --metrics-port 0 --health-port 0
sed "s/@DNS_SERVICE_IP@/$DNS_SERVICE_IP/" "$CONF/coredns.yaml" | apiserver apply --server-side --field-manager shipyard-node -f - >/dev/null ||
  die "could not apply CoreDNS"
log "node started; components are supervised"
touch /run/shipyard/started

wait

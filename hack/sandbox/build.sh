#!/usr/bin/env bash
# Build (or download) the pinned sandbox binaries into the cache:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
# kwok, kwokctl, kind and helm, and the real node's kubelet and kube-proxy
# (same Kubernetes version, same wrapper module: the node build shares most
# of its compiled packages with the control plane).
#
# By default everything is built from the Go module proxy, and nothing else
# is contacted. Where the internet is reachable, SHIPYARD_SANDBOX_SOURCE=download
# fetches the official release artifacts instead and checks them against the
# publisher's sha256 files (and the pins in checksums.txt where recorded);
# auto probes dl.k8s.io first and builds when it does not answer. Each binary
# is stamped on success, so an interrupted build resumes where it stopped and
# a warm cache returns at once.
#
#   build.sh [BINARY...]   only these (default: every one); `make up` builds
#                          only what the clusters here run (CLUSTER_BINS in the
#                          Makefile); kind and helm serve the tools' roles
#   SHIPYARD_SANDBOX_SOURCE=build|download|auto   (default build)
set -euo pipefail
# shellcheck source=hack/sandbox/lib.sh
. "$(dirname "$0")/lib.sh"

SOURCE=${SHIPYARD_SANDBOX_SOURCE:-build}
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
ALL_BINS=("${KUBE_BINS[@]}" etcd kwok kwokctl kind helm)
WORK=$SHIPYARD_CACHE/sandbox/src-$SANDBOX_RECIPE
mkdir -p "$SANDBOX_BIN_DIR" "$WORK"

WANTED=("$@")
[ $# -gt 0 ] || WANTED=("${ALL_BINS[@]}")
for b in "${WANTED[@]}"; do
  [[ " ${ALL_BINS[*]} " == *" $b "* ]] || die "no binary '$b' is built here; one of: ${ALL_BINS[*]}"
done
missing=()
for b in "${WANTED[@]}"; do
  [ -x "$SANDBOX_BIN_DIR/$b" ] || missing+=("$b")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "binaries ready in $SANDBOX_BIN_DIR"
  exit 0
fi

start=$(date +%s)
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}
GOCACHE=${GOCACHE:-$SHIPYARD_CACHE/go-build}
export GOCACHE

need() { [[ " ${missing[*]} " == *" $1 "* ]]; }

elapsed() { echo "$(($(date +%s) - start))s"; }

# Progress while a long step runs: one line a minute, so CI logs and a
# waiting person both see the build is alive.
with_progress() {
  local what=$1; shift
  log "building $what (cold builds take minutes; started at $(elapsed))"
  "$@" &
  local pid=$! since last
  since=$(date +%s); last=$since
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if [ $(($(date +%s) - last)) -ge 60 ]; then
      last=$(date +%s)
      log "  ... still building $what ($((last - since))s)"
    fi
  done
  wait "$pid" || die "building $what failed"
  log "built $what ($(elapsed) so far)"
}

internet_reachable() {
  curl -fsSI --max-time 5 "https://dl.k8s.io/release/${KUBE_VERSION}/bin/linux/amd64/kubectl.sha256" >/dev/null 2>&1
}

# --- download path -----------------------------------------------------------
download_verified() { # url sum-url dest name
  # The sha256 must match the publisher's checksum file, and the pin in
  # checksums.txt where one is recorded; on a mismatch nothing is installed.
  local url=$1 sum_url=$2 dest=$3 name=$4 published pinned got tmp
  published=$(curl -fsSL --retry 3 "$sum_url" | awk -v n="${url##*/}" 'NF == 1 || $2 == n || $2 == "*" n { print $1; exit }') ||
    { log "cannot fetch $sum_url"; return 1; }
  [ -n "$published" ] || { log "no sha256 for ${url##*/} in $sum_url"; return 1; }
  pinned=$(awk -v n="$name" '$2 == n { print $1 }' "$SANDBOX_HACK_DIR/checksums.txt")
  if [ -n "$pinned" ] && [ "$pinned" != "$published" ]; then
    die "$sum_url says $published for $name, checksums.txt pins $pinned"
  fi
  tmp=$(mktemp "$WORK/dl.XXXXXX")
  curl -fsSL --retry 3 -o "$tmp" "$url" || { rm -f "$tmp"; return 1; }
  got=$(sha256sum "$tmp" | cut -d' ' -f1)
  if [ "$got" != "$published" ]; then
    rm -f "$tmp"
    die "checksum mismatch for $name from $url: expected $published, got $got"
  fi
  mv "$tmp" "$dest"
}

download_all() {
  local arch=linux-amd64 b base
  base=https://dl.k8s.io/release/${KUBE_VERSION}/bin/linux/amd64
  for b in "${KUBE_BINS[@]}"; do
    need "$b" || continue
    download_verified "$base/$b" "$base/$b.sha256" "$SANDBOX_BIN_DIR/$b" "$b-${KUBE_VERSION}-$arch" || return 1
  done
  if need etcd; then
    base=https://github.com/etcd-io/etcd/releases/download/${ETCD_VERSION}
    download_verified "$base/etcd-${ETCD_VERSION}-$arch.tar.gz" "$base/SHA256SUMS" "$WORK/etcd.tgz" "etcd-${ETCD_VERSION}-$arch.tar.gz" || return 1
    tar -xzf "$WORK/etcd.tgz" -C "$WORK" "etcd-${ETCD_VERSION}-$arch/etcd"
    mv "$WORK/etcd-${ETCD_VERSION}-$arch/etcd" "$SANDBOX_BIN_DIR/etcd"
  fi
  base=https://github.com/kubernetes-sigs/kwok/releases/download/${KWOK_VERSION}
  for b in kwok kwokctl; do
    need "$b" || continue
    download_verified "$base/$b-$arch" "$base/checksums.txt" "$SANDBOX_BIN_DIR/$b" "$b-${KWOK_VERSION}-$arch" || return 1
  done
  if need kind; then
    base=https://github.com/kubernetes-sigs/kind/releases/download/${KIND_VERSION}
    download_verified "$base/kind-$arch" "$base/kind-$arch.sha256sum" "$SANDBOX_BIN_DIR/kind" "kind-${KIND_VERSION}-$arch" || return 1
  fi
  if need helm; then
    base=https://get.helm.sh
    download_verified "$base/helm-${HELM_VERSION}-$arch.tar.gz" "$base/helm-${HELM_VERSION}-$arch.tar.gz.sha256sum" "$WORK/helm.tgz" "helm-${HELM_VERSION}-$arch.tar.gz" || return 1
    tar -xzf "$WORK/helm.tgz" -C "$WORK" "$arch/helm"
    mv "$WORK/$arch/helm" "$SANDBOX_BIN_DIR/helm"
  fi
  chmod 0755 "$SANDBOX_BIN_DIR"/*
}

# --- build path ----------------------------------------------------------------
kube_ldflags() {
  local minor pkg flags="-s -w"
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

build_kube() {
  local mod=$WORK/kube gomod line m
  mkdir -p "$mod"
  if [ ! -f "$mod/.prepared" ]; then
    gomod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    (
      cd "$mod"
      rm -f go.mod go.sum
      go mod init shipyard.local/sandbox/kube >/dev/null 2>&1
      grep -E '^(go|godebug) ' "$gomod" | while read -r line; do
        case $line in
          go\ *) go mod edit -go="${line#go }" ;;
          godebug\ *) go mod edit -godebug="${line#godebug }" ;;
        esac
      done
      # Every staging module of k8s.io/kubernetes is published as k8s.io/<m> v0.<minor>.<patch>.
      for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging/ { print $1 }' "$gomod"); do
        go mod edit -replace="$m=$m@v0${KUBE_VERSION#v1}"
      done
      go mod edit -require="k8s.io/kubernetes@${KUBE_VERSION}"
      go mod download k8s.io/kubernetes
    )
    touch "$mod/.prepared"
  fi
  local pkgs=() b
  for b in "${KUBE_BINS[@]}"; do
    need "$b" && pkgs+=("k8s.io/kubernetes/cmd/$b")
  done
  [ ${#pkgs[@]} -gt 0 ] || return 0
  (cd "$mod" && go build -pgo=off -trimpath -tags selinux,notest -ldflags "$(kube_ldflags)" -o "$SANDBOX_BIN_DIR/" "${pkgs[@]}")
}

build_etcd() {
  local mod=$WORK/etcd
  mkdir -p "$mod"
  (
    cd "$mod"
    [ -f go.mod ] || go mod init shipyard.local/sandbox/etcd >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
    go build -trimpath -ldflags "-s -w" -o "$SANDBOX_BIN_DIR/etcd" go.etcd.io/etcd/server/v3
  )
}

build_gotool() { # module@version package... ; installs into the bin dir
  local modver=$1; shift
  local mod=$WORK/$(echo "${modver%@*}" | tr '/.' '__')
  mkdir -p "$mod"
  (
    cd "$mod"
    [ -f go.mod ] || go mod init "shipyard.local/sandbox/tool" >/dev/null 2>&1
    go get "$modver"
    go build -trimpath -ldflags "-s -w ${LDFLAGS_EXTRA:-}" -o "$SANDBOX_BIN_DIR/" "$@"
  )
}

build_all() {
  command -v go >/dev/null || die "go is needed to build the binaries: install Go (https://go.dev/dl), or set SHIPYARD_SANDBOX_SOURCE=download where dl.k8s.io answers"
  log "building from the Go module proxy into $SANDBOX_BIN_DIR"
  need etcd && with_progress "etcd ${ETCD_VERSION}" build_etcd
  if need kwok || need kwokctl; then
    with_progress "kwok ${KWOK_VERSION}" build_gotool "sigs.k8s.io/kwok@${KWOK_VERSION}" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
  fi
  local b kube_missing=()
  for b in "${KUBE_BINS[@]}"; do need "$b" && kube_missing+=("$b"); done
  if [ ${#kube_missing[@]} -gt 0 ]; then
    with_progress "kubernetes ${KUBE_VERSION} (${kube_missing[*]})" build_kube
  fi
  need kind && with_progress "kind ${KIND_VERSION}" build_gotool "sigs.k8s.io/kind@${KIND_VERSION}" sigs.k8s.io/kind
  if need helm; then
    LDFLAGS_EXTRA="-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" \
      with_progress "helm ${HELM_VERSION}" build_gotool "helm.sh/helm/v3@${HELM_VERSION}" helm.sh/helm/v3/cmd/helm
  fi
}

case $SOURCE in
  download) download_all || die "download failed (see above)" ;;
  build) build_all ;;
  auto)
    if internet_reachable && download_all; then
      log "downloaded and verified official release binaries"
    else
      build_all
    fi ;;
  *) die "SHIPYARD_SANDBOX_SOURCE must be build, download or auto, not '$SOURCE'" ;;
esac

for b in "${WANTED[@]}"; do
  [ -x "$SANDBOX_BIN_DIR/$b" ] || die "$b is missing from $SANDBOX_BIN_DIR after the build"
done
log "binaries ready in $SANDBOX_BIN_DIR (${missing[*]}: took $(elapsed))"

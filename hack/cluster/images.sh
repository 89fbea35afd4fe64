#!/usr/bin/env bash
# Build the images of the local cluster and save them for its node:
#
#   localhost/shipyard/node:<rev>            the node container (hack/cluster/node.Dockerfile)
#   localhost/shipyard/standin/pause         the pod sandbox (Kubernetes' pause.c)
#   localhost/shipyard/standin/coredns       cluster DNS
#   localhost/shipyard/standin/postgres      PostgreSQL, the official image's contract
#   localhost/shipyard/standin/prometheus    Prometheus, the upstream image's contract
#   localhost/shipyard/standin/alertmanager  Alertmanager, likewise
#   localhost/shipyard/standin/nginx         nginx, the unprivileged image's contract (the app's frontend)
#   localhost/shipyard/standin/rclone        rclone, the upstream image's contract (backups to a bucket)
#   localhost/shipyard/standin/versitygw     an S3 gateway, the bucket of the backup tests (tests only)
#
# No registry answers here, so the images the roles deploy are built from
# Debian's packages and the Go module proxy, and handed to the node's
# containerd under the upstream names (the way `kind load` hands images over).
# Where a registry answers, SHIPYARD_CLUSTER_STANDINS=none skips the stand-ins
# and the node pulls the upstream images itself.
#
# Each image carries the hash of its recipe in a label and is rebuilt only when
# that changes; `docker save` archives are cached beside them. Prints the
# folder that holds the archives and the `tags` file (stand-in -> upstream).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=hack/sandbox/lib.sh
. "$REPO/hack/sandbox/lib.sh"
# shellcheck source=hack/tools/versions.env
. "$REPO/hack/tools/versions.env"
# The upstream references the stand-ins answer to; the roles' defaults name the same.
PAUSE_REF=registry.k8s.io/pause:3.10
COREDNS_REF=registry.k8s.io/coredns/coredns:$COREDNS_VERSION
POSTGRES_REF=docker.io/library/postgres:16.6-bookworm
PROMETHEUS_REF=quay.io/prometheus/prometheus:$PROMETHEUS_VERSION
ALERTMANAGER_REF=quay.io/prometheus/alertmanager:$ALERTMANAGER_VERSION
NGINX_REF=docker.io/nginxinc/nginx-unprivileged:1.27-bookworm
RCLONE_REF=docker.io/rclone/rclone:1.60.1
VERSITYGW_REF=docker.io/versity/versitygw:$VERSITYGW_VERSION

DEBIAN_MIRROR=${SHIPYARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SOURCES="$(printf 'deb %s %s main\n' "$DEBIAN_MIRROR" bookworm "$DEBIAN_MIRROR" bookworm-updates)"
BASE=localhost/shipyard/debian:bookworm
OUT=$SHIPYARD_CACHE/cluster/images
LABEL=org.shipyard.recipe
STANDINS=${SHIPYARD_CLUSTER_STANDINS:-all}

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers; run 'make docker' (hack/docker-engine.sh) first"
docker image inspect "$BASE" >/dev/null 2>&1 || die "the base image $BASE is missing; run 'make images' first"

image_recipe() { docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }
base_id() { docker image inspect -f '{{ .Id }}' "$BASE"; }

# build IMAGE DOCKERFILE CONTEXT [build-arg...]: rebuilt when the Dockerfile, the
# context's files, the base image or the build args change.
build() {
  local image=$1 dockerfile=$2 context=$3 hash; shift 3
  hash=$( { cat "$dockerfile"; find "$context" -maxdepth 1 -type f -print0 | sort -z | xargs -0 sha256sum | cut -c1-64; base_id; echo "$*"; } | sha256sum | cut -c1-16)
  if [ "$(image_recipe "$image")" = "$hash" ]; then
    return
  fi
  log "building $image"
  local args=() a
  for a in "$@"; do args+=(--build-arg "$a"); done
  docker build -q "${args[@]}" --build-arg "BASE_IMAGE=$BASE" --label "$LABEL=$hash" \
    -t "$image" -f "$dockerfile" "$context" >/dev/null || die "building $image failed"
}

# save IMAGE NAME: a docker-save archive for the node, renewed when the image
# changes; prints the archive's file name (the name, then the image ID).
save() {
  local image=$1 name=$2 file
  file=$name-$(docker image inspect -f '{{ .Id }}' "$image" | cut -d: -f2 | cut -c1-16).tar
  if [ ! -f "$OUT/$file" ]; then
    rm -f "$OUT/$name"-*.tar
    docker save "$image" -o "$OUT/$file.tmp"
    mv "$OUT/$file.tmp" "$OUT/$file"
  fi
  echo "$file"
}

mkdir -p "$OUT"
# One build at a time (`make cluster-images` beside a `make up`, or two clusters' up.sh).
exec 8>"$OUT/.lock"
if ! flock -n 8; then
  log "another build of the cluster's images runs; waiting for it"
  flock 8
fi
start=$(date +%s)

# The node.
build localhost/shipyard/node:latest "$HERE/node.Dockerfile" "$HERE" "SOURCES_LIST=$SOURCES"

# What the node itself needs: pause and CoreDNS.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# pause.c from the Kubernetes module the control plane is built from (already in the
# Go module cache once `make cluster-build` has started; fetched from the proxy if not),
# so these images need neither that build nor its binaries, and build beside it.
kube_mod=$(cd "$ctx" && GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} \
  go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
  die "cannot fetch k8s.io/kubernetes@$KUBE_VERSION (for pause.c) from the Go module proxy"
pause_src=$kube_mod/build/pause/linux/pause.c
[ -f "$pause_src" ] || die "$pause_src is missing"
pause_bin=$SHIPYARD_CACHE/cluster/pause-$(sha256sum "$pause_src" | cut -c1-12)
if [ ! -x "$pause_bin" ]; then
  "$REPO/hack/ensure-packages.sh" gcc=gcc /usr/lib/x86_64-linux-gnu/libc.a=libc6-dev || die "gcc and libc6-dev are needed to compile the pause binary"
  gcc -Os -static -DVERSION="$KUBE_VERSION-shipyard" -o "$pause_bin.tmp" "$pause_src" && strip "$pause_bin.tmp" && mv "$pause_bin.tmp" "$pause_bin"
fi
mkdir -p "$ctx/pause" && cp "$pause_bin" "$ctx/pause/pause"
build localhost/shipyard/standin/pause:3.10 "$HERE/images/pause.Dockerfile" "$ctx/pause"

tools_bin() { "$REPO/hack/tools/build.sh" "$1"; }
mkdir -p "$ctx/coredns" && cp "$(tools_bin coredns)/coredns" "$ctx/coredns/"
build "localhost/shipyard/standin/coredns:$COREDNS_VERSION" "$HERE/images/coredns.Dockerfile" "$ctx/coredns"

: >"$OUT/tags.tmp"
# Each entry: the local image and the upstream reference it answers to.
node_images=("localhost/shipyard/standin/pause:3.10 $PAUSE_REF" "localhost/shipyard/standin/coredns:$COREDNS_VERSION $COREDNS_REF")
standins=()
if [ "$STANDINS" = all ]; then
  build localhost/shipyard/standin/postgres:15 "$HERE/images/postgres.Dockerfile" "$HERE/images" "SOURCES_LIST=$SOURCES"
  mkdir -p "$ctx/prometheus" "$ctx/alertmanager"
  cp "$(tools_bin prometheus)"/{prometheus,promtool} "$HERE/images/prometheus.yml" "$ctx/prometheus/"
  cp "$(tools_bin alertmanager)"/{alertmanager,amtool} "$HERE/images/alertmanager.yml" "$ctx/alertmanager/"
  build "localhost/shipyard/standin/prometheus:$PROMETHEUS_VERSION" "$HERE/images/prometheus.Dockerfile" "$ctx/prometheus"
  build "localhost/shipyard/standin/alertmanager:$ALERTMANAGER_VERSION" "$HERE/images/alertmanager.Dockerfile" "$ctx/alertmanager"
  mkdir -p "$ctx/nginx"
  build localhost/shipyard/standin/nginx:1.22 "$HERE/images/nginx.Dockerfile" "$ctx/nginx" "SOURCES_LIST=$SOURCES"
  mkdir -p "$ctx/rclone"
  build localhost/shipyard/standin/rclone:1.60 "$HERE/images/rclone.Dockerfile" "$ctx/rclone" "SOURCES_LIST=$SOURCES"
  mkdir -p "$ctx/versitygw" && cp "$(tools_bin versitygw)/versitygw" "$ctx/versitygw/"
  build "localhost/shipyard/standin/versitygw:$VERSITYGW_VERSION" "$HERE/images/versitygw.Dockerfile" "$ctx/versitygw"
  # In the order a first converge starts them on the real node (see `unpack`).
  standins=("localhost/shipyard/standin/postgres:15 $POSTGRES_REF"
    "localhost/shipyard/standin/nginx:1.22 $NGINX_REF"
    "localhost/shipyard/standin/prometheus:$PROMETHEUS_VERSION $PROMETHEUS_REF"
    "localhost/shipyard/standin/alertmanager:$ALERTMANAGER_VERSION $ALERTMANAGER_REF"
    "localhost/shipyard/standin/rclone:1.60 $RCLONE_REF"
    "localhost/shipyard/standin/versitygw:$VERSITYGW_VERSION $VERSITYGW_REF")
elif [ "$STANDINS" != none ]; then
  die "SHIPYARD_CLUSTER_STANDINS must be all or none, not '$STANDINS'"
fi

# The Debian base that the stand-ins, the app's image and the tests' probes
# share: handed over too. `unpack` names the images the node unpacks in the
# background as it starts, each with its archive (hack/cluster/node-entrypoint.sh):
# the base first, then the stand-ins, as a node image's preloaded images come unpacked.
file=$(save "$BASE" debian)
keep=(debian)
printf '%s %s\n' "$BASE" "$file" >"$OUT/unpack.tmp"
declare -A archives
for entry in "${node_images[@]}" "${standins[@]}"; do
  read -r local_ref upstream <<<"$entry"
  name=$(basename "${local_ref%%:*}")
  archives[$local_ref]=$(save "$local_ref" "$name")
  keep+=("$name")
  # The archive names the local image; the node tags it with the upstream name.
  printf '%s %s\n' "$local_ref" "$upstream" >>"$OUT/tags.tmp"
done
for entry in "${standins[@]}"; do
  read -r local_ref _ <<<"$entry"
  printf '%s %s\n' "$local_ref" "${archives[$local_ref]}" >>"$OUT/unpack.tmp"
done
mv "$OUT/tags.tmp" "$OUT/tags"
mv "$OUT/unpack.tmp" "$OUT/unpack"
# Drop archives of images no longer handed over (SHIPYARD_CLUSTER_STANDINS=none).
for f in "$OUT"/*.tar; do
  [[ " ${keep[*]} " == *" $(basename "${f%-*}") "* ]] || rm -f "$f"
done
log "images ready in $OUT ($(($(date +%s) - start))s)"
echo "$OUT"

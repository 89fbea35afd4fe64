#!/usr/bin/env bash
# Build the test tools the stacks' tests need from the Go module proxy, each
# into its own cache folder, only when missing; print the bin folder of each.
#   build.sh prometheus alertmanager cyclonus
#   prometheus:       prometheus and promtool with the discovery plugins in PROMETHEUS_PLUGINS
#                     (Debian's lack Kubernetes discovery)
#   alertmanager:     alertmanager and amtool
#   cyclonus:         NetworkPolicy analysis engine (reachability over the rendered policies)
#   coredns:          the local cluster's DNS, with only the plugins it uses (coredns/main.go)
#   kube-router:      the local cluster's NetworkPolicy engine (firewall only)
#   versitygw:        an S3 gateway over a folder, the bucket of the backup tests
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/tools/versions.env
. "$HERE/versions.env"
CACHE=${SHIPYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipyard}
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOCACHE=${GOCACHE:-$CACHE/go-build}

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] ERROR: %s\n' "$*" >&2; exit 1; }

# build NAME VERSION MODULE@VERSION LDFLAGS PACKAGE... (binaries land in the cache folder)
# A folder hack/tools/NAME/ holds a main package of ours, built as PACKAGE '.'.
# With EDIT=<function>, the module's own source is copied, the function edits
# the copy (its folder as $1), and PACKAGE... are built inside it (./cmd/...).
build() {
  local name=$1 version=$2 modver=$3 ldflags=$4; shift 4
  local bin=$CACHE/tools/$name-$version
  if [ -f "$bin/.complete" ]; then echo "$bin"; return; fi
  command -v go >/dev/null || die "go is needed to build $name $version (https://go.dev/dl)"
  local work start=$SECONDS
  work=$(mktemp -d)
  log "building $name $version from the Go module proxy (a few minutes, once)"
  (
    cd "$work"
    if [ -n "${EDIT:-}" ]; then
      src=$(go mod download -json "$modver" 2>"$work/build.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
      cp -R "$src" "$work/src" && chmod -R u+w "$work/src" && "$EDIT" "$work/src" && cd "$work/src"
    else
      go mod init shipyard.local/tools/"$name" >/dev/null 2>&1
      if [ -d "$HERE/$name" ]; then cp "$HERE/$name"/*.go .; fi
      go get "$modver" >"$work/build.log" 2>&1
      if [ -d "$HERE/$name" ]; then go mod tidy >>"$work/build.log" 2>&1; fi
    fi
    mkdir -p "$bin"
    go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/" "$@" >>"$work/build.log" 2>&1
  ) || { tail -30 "$work/build.log" >&2; rm -rf "$work"; die "building $name $version failed"; }
  rm -rf "$work"
  touch "$bin/.complete"
  log "$name $version built in $((SECONDS - start))s"
  echo "$bin"
}

# Prometheus registers its service discoveries in plugins/plugins.go, which
# upstream generates from plugins.yml ("make plugins"; their docs' way to
# build with fewer). The stand-in image and the tests scrape through
# kubernetes_sd_configs only (roles/monitoring), so this build registers
# PROMETHEUS_PLUGINS and leaves out the cloud discoveries, whose SDKs (AWS
# EC2, Google Compute, Azure compute and network) are the largest packages of
# the full build. A config that names another discovery fails promtool here.
prometheus_plugins() {
  local p
  {
    printf '// Written by hack/tools/build.sh: the discoveries in PROMETHEUS_PLUGINS.\n\npackage plugins\n\nimport (\n'
    for p in $PROMETHEUS_PLUGINS; do
      [ -d "$1/discovery/$p" ] || die "PROMETHEUS_PLUGINS names '$p', which is not a folder of $1/discovery"
      printf '\t_ "github.com/prometheus/prometheus/discovery/%s"\n' "$p"
    done
    printf ')\n'
  } >"$1/plugins/plugins.go"
}

for tool in "$@"; do
  case $tool in
    prometheus)
      v=github.com/prometheus/common/version
      EDIT=prometheus_plugins build prometheus "$PROMETHEUS_VERSION-sd-${PROMETHEUS_PLUGINS// /-}" \
        "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" \
        "-X $v.Version=${PROMETHEUS_VERSION#v} -X $v.Revision=module-$PROMETHEUS_MODULE_VERSION -X $v.Branch=release" \
        ./cmd/prometheus ./cmd/promtool ;;
    alertmanager)
      v=github.com/prometheus/common/version
      build alertmanager "$ALERTMANAGER_VERSION" "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" \
        "-X $v.Version=${ALERTMANAGER_VERSION#v} -X $v.Branch=release" \
        github.com/prometheus/alertmanager/cmd/alertmanager github.com/prometheus/alertmanager/cmd/amtool ;;
    cyclonus)
      build cyclonus "$CYCLONUS_VERSION" "github.com/mattfenwick/cyclonus@$CYCLONUS_VERSION" "" \
        github.com/mattfenwick/cyclonus/cmd/cyclonus ;;
    coredns)
      build coredns "$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION" \
        "-X github.com/coredns/coredns/coremain.GitCommit=module-$COREDNS_VERSION" . ;;
    kube-router)
      build kube-router "$KUBE_ROUTER_VERSION" "github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION" \
        "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
        github.com/cloudnativelabs/kube-router/v2/cmd/kube-router ;;
    versitygw)
      build versitygw "$VERSITYGW_VERSION" "github.com/versity/versitygw@$VERSITYGW_VERSION" \
        "-X main.Version=$VERSITYGW_VERSION -X main.Build=module" github.com/versity/versitygw/cmd/versitygw ;;
    *) die "unknown tool '$tool' (prometheus, alertmanager, cyclonus, coredns, kube-router, versitygw)" ;;
  esac
done

#!/usr/bin/env bash
# Build shipyard's local base images from Debian packages, with no registry:
#
#   localhost/shipyard/debian:bookworm          minimal bookworm + python3, venv, CA certificates
#                                               (the app image's BASE_IMAGE in tests)
#   localhost/shipyard/debian-systemd:bookworm  the above + systemd as PID 1 and sshd, for
#                                               Molecule scenarios of roles that manage hosts
#
# A rootfs is made by debootstrap and imported with `docker import`. Each image
# carries the hash of its recipe in a label; it is rebuilt only when the recipe
# changes, and the rootfs tarball is cached so a lost image re-imports in seconds.
#
# Extra CA certificates (*.crt) in SHIPYARD_EXTRA_CA_DIR (default: the host's
# /usr/local/share/ca-certificates) are trusted inside the images, so builds
# behind a TLS-inspecting proxy work; with none there, nothing is added.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SHIPYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipyard}/images
MIRROR=${SHIPYARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
CA_DIR=${SHIPYARD_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
BASE=localhost/shipyard/debian:$SUITE
SYSTEMD=localhost/shipyard/debian-systemd:$SUITE
BASE_PACKAGES=python3,python3-venv,ca-certificates
LABEL=org.shipyard.recipe

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers; run 'make docker' (hack/docker-engine.sh) first"

ca_files() { find "$CA_DIR" -maxdepth 1 -name '*.crt' 2>/dev/null | sort; }

recipe_hash() { # extra text...
  { cat "$0"; echo "$MIRROR $SUITE $BASE_PACKAGES $*"; ca_files | xargs -r cat; } | sha256sum | cut -c1-16
}

image_recipe() { docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

build_base() {
  local hash tarball rootfs
  hash=$(recipe_hash base)
  if [ "$(image_recipe "$BASE")" = "$hash" ]; then
    log "$BASE is up to date"
    return
  fi
  mkdir -p "$CACHE"
  tarball=$CACHE/debian-$SUITE-$hash.tar
  if [ ! -f "$tarball" ]; then
    "$HERE/../ensure-packages.sh" debootstrap=debootstrap || die "debootstrap is needed to build the base images"
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap $SUITE ($BASE_PACKAGES) from $MIRROR; about a minute"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $CACHE/debootstrap.log"
    if [ -n "$(ca_files)" ]; then
      log "trusting extra CA certificates from $CA_DIR"
      ca_files | xargs -I{} cp {} "$rootfs/usr/local/share/ca-certificates/"
      chroot "$rootfs" update-ca-certificates >/dev/null
    fi
    # Keep the image small and reproducible: no apt lists or caches.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
  fi
  log "importing $BASE"
  docker import \
    --change "LABEL $LABEL=$hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    "$tarball" "$BASE" >/dev/null
  # Drop tarballs of older recipes.
  find "$CACHE" -maxdepth 1 -name "debian-$SUITE-*.tar" ! -name "debian-$SUITE-$hash.tar" -delete
}

build_systemd() {
  local hash
  hash=$(recipe_hash systemd "$(image_recipe "$BASE")" "$(cat "$HERE/debian-systemd.Dockerfile")")
  if [ "$(image_recipe "$SYSTEMD")" = "$hash" ]; then
    log "$SYSTEMD is up to date"
    return
  fi
  log "building $SYSTEMD"
  docker build -q --build-arg "BASE_IMAGE=$BASE" --build-arg "DEBIAN_MIRROR=$MIRROR" \
    --label "$LABEL=$hash" -t "$SYSTEMD" -f "$HERE/debian-systemd.Dockerfile" "$HERE" >/dev/null
}

start=$(date +%s)
build_base
build_systemd
log "images ready ($(($(date +%s) - start))s)"

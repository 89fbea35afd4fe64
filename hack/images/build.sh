#!/usr/bin/env bash
# Build shipyard's local base images from distribution packages, with no registry:
#
#   localhost/shipyard/debian:bookworm          minimal bookworm + python3, venv, CA certificates
#                                               (the app image's BASE_IMAGE in tests)
#   localhost/shipyard/debian-systemd:bookworm  the above + systemd as PID 1 and sshd, for
#                                               Molecule scenarios of roles that manage hosts
#   localhost/shipyard/ubuntu:noble             minimal Ubuntu 24.04 + python3, CA certificates
#   localhost/shipyard/ubuntu-systemd:noble     the above + systemd and sshd (hosts on Ubuntu)
#
# A rootfs is made by debootstrap and imported with `docker import`. Each image
# carries the hash of its recipe in a label; it is rebuilt only when the recipe
# changes, and the rootfs tarball is cached so a lost image re-imports in seconds.
# Ubuntu's archive is verified with Ubuntu's keyring, taken from its package
# (pinned by sha256) and checked for the archive key's fingerprint.
#
# Extra CA certificates (*.crt) in SHIPYARD_EXTRA_CA_DIR (default: the host's
# /usr/local/share/ca-certificates) are trusted inside the images, so builds
# behind a TLS-inspecting proxy work; with none there, nothing is added.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SHIPYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipyard}/images
DEBIAN_MIRROR=${SHIPYARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
UBUNTU_MIRROR=${SHIPYARD_UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}
CA_DIR=${SHIPYARD_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
LABEL=org.shipyard.recipe
# ubuntu-keyring 2021.03.26 (Ubuntu's archive keys) and the 2018 archive signing key in it.
UBUNTU_KEYRING_DEB=pool/main/u/ubuntu-keyring/ubuntu-keyring_2021.03.26_all.deb
UBUNTU_KEYRING_SHA256=0d0e7ed6b112f5d03eabf3c7eb01ebdacf9c57714b279e90495cfc58c8c4520f
UBUNTU_ARCHIVE_KEY=F6ECB3762474EDA9D21B7022871920D1991BC93C

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers; run 'make docker' (hack/docker-engine.sh) first"

ca_files() { find "$CA_DIR" -maxdepth 1 -name '*.crt' 2>/dev/null | sort; }

recipe_hash() { # text that describes the image...
  { cat "$0"; echo "$*"; ca_files | xargs -r cat; } | sha256sum | cut -c1-16
}

image_recipe() { docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

ubuntu_keyring() { # prints the path of Ubuntu's archive keyring, verified
  local dir=$CACHE/ubuntu-keyring deb
  "$HERE/../ensure-packages.sh" gpg=gpg curl=curl >&2 || die "gpg and curl are needed to check Ubuntu's keyring"
  if [ ! -f "$dir/ubuntu-archive-keyring.gpg" ]; then
    mkdir -p "$dir"
    deb=$dir/keyring.deb
    curl -fsSL --retry 3 -o "$deb" "$UBUNTU_MIRROR/$UBUNTU_KEYRING_DEB" || die "cannot fetch $UBUNTU_MIRROR/$UBUNTU_KEYRING_DEB"
    echo "$UBUNTU_KEYRING_SHA256  $deb" | sha256sum -c --quiet - || die "ubuntu-keyring: sha256 differs from the pin"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/keyrings/ubuntu-archive-keyring.gpg >"$dir/ubuntu-archive-keyring.gpg.tmp"
    gpg --show-keys --with-colons "$dir/ubuntu-archive-keyring.gpg.tmp" 2>/dev/null | grep -q "^fpr:::::::::$UBUNTU_ARCHIVE_KEY:" ||
      die "ubuntu-keyring: no archive key $UBUNTU_ARCHIVE_KEY in it"
    mv "$dir/ubuntu-archive-keyring.gpg.tmp" "$dir/ubuntu-archive-keyring.gpg"
    rm -f "$deb"
  fi
  echo "$dir/ubuntu-archive-keyring.gpg"
}

build_base() { # image name suite mirror packages script [debootstrap options...]
  local image=$1 name=$2 suite=$3 mirror=$4 packages=$5 script=$6 hash tarball rootfs
  shift 6
  # The options derive from this script's constants (hashed with it), not from paths.
  hash=$(recipe_hash base "$name" "$suite" "$mirror" "$packages" "$script")
  if [ "$(image_recipe "$image")" = "$hash" ]; then
    log "$image is up to date"
    return
  fi
  mkdir -p "$CACHE"
  tarball=$CACHE/$name-$suite-$hash.tar
  if [ ! -f "$tarball" ]; then
    "$HERE/../ensure-packages.sh" debootstrap=debootstrap || die "debootstrap is needed to build the base images"
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap $name $suite ($packages) from $mirror; about a minute"
    debootstrap --variant=minbase --include="$packages" "$@" "$suite" "$rootfs" "$mirror" ${script:+"$script"} >"$CACHE/debootstrap.log" 2>&1 ||
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
  log "importing $image"
  docker import \
    --change "LABEL $LABEL=$hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    "$tarball" "$image" >/dev/null
  # Drop tarballs of older recipes.
  find "$CACHE" -maxdepth 1 -name "$name-$suite-*.tar" ! -name "$name-$suite-$hash.tar" -delete
}

build_systemd() { # image base sources.list
  local image=$1 base=$2 sources=$3 hash
  hash=$(recipe_hash systemd "$(image_recipe "$base")" "$sources" "$(cat "$HERE/systemd.Dockerfile")")
  if [ "$(image_recipe "$image")" = "$hash" ]; then
    log "$image is up to date"
    return
  fi
  log "building $image"
  docker build -q --build-arg "BASE_IMAGE=$base" --build-arg "SOURCES_LIST=$sources" \
    --label "$LABEL=$hash" -t "$image" -f "$HERE/systemd.Dockerfile" "$HERE" >/dev/null
}

start=$(date +%s)
build_base localhost/shipyard/debian:bookworm debian bookworm "$DEBIAN_MIRROR" python3,python3-venv,ca-certificates ""
build_systemd localhost/shipyard/debian-systemd:bookworm localhost/shipyard/debian:bookworm \
  "$(printf 'deb %s %s main\n' "$DEBIAN_MIRROR" bookworm "$DEBIAN_MIRROR" bookworm-updates)"
# debootstrap 1.0.128 (Debian 12) has no script named noble; gutsy's is the one every Ubuntu release uses.
build_base localhost/shipyard/ubuntu:noble ubuntu noble "$UBUNTU_MIRROR" python3,ca-certificates \
  /usr/share/debootstrap/scripts/gutsy --components=main,universe --keyring="$(ubuntu_keyring)"
build_systemd localhost/shipyard/ubuntu-systemd:noble localhost/shipyard/ubuntu:noble \
  "$(printf 'deb %s %s main universe\n' "$UBUNTU_MIRROR" noble "$UBUNTU_MIRROR" noble-updates "$UBUNTU_MIRROR" noble-security)"
log "images ready ($(($(date +%s) - start))s)"

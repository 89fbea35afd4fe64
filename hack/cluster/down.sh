#!/usr/bin/env bash
# Remove the local cluster of up.sh: its container, its volumes (etcd, images,
# the pods' data), the cgroup folders its pods used, and the state folder.
# Leaves nothing on the host; on nothing, says so and succeeds.
#   down.sh [--name NAME] [--dir DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/lib.sh
. "$HERE/lib.sh"

while [ $# -gt 0 ]; do
  case $1 in
    --name) NAME=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
CONTAINER=$NAME-node
removed=()

if docker info >/dev/null 2>&1; then
  if docker container inspect "$CONTAINER" >/dev/null 2>&1; then
    # A graceful stop first, so that the node stops its pods' containers.
    docker stop -t 30 "$CONTAINER" >/dev/null 2>&1 || true
    docker rm -f "$CONTAINER" >/dev/null
    removed+=("container $CONTAINER")
  fi
  for v in state containerd kubelet; do
    if docker volume inspect "$CONTAINER-$v" >/dev/null 2>&1; then
      docker volume rm "$CONTAINER-$v" >/dev/null
      removed+=("volume $CONTAINER-$v")
    fi
  done
fi

# The pods' cgroups live below /shipyard-NAME in each hierarchy; empty once
# the container is gone. Deepest first: a cgroup folder goes only when empty.
for h in $(findmnt -rn -t cgroup,cgroup2 -o TARGET | grep '^/sys/fs/cgroup/'); do
  root=$h/shipyard-$NAME
  [ -d "$root" ] || continue
  find "$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  if [ -d "$root" ]; then
    log "cgroup $root still holds processes: $(cat "$root"/cgroup.procs 2>/dev/null | head -3 | tr '\n' ' ')"
  else
    removed+=("cgroup $root")
  fi
done

if [ -d "$DIR" ]; then
  rm -rf "$DIR"
  removed+=("state $DIR")
fi
if [ ${#removed[@]} -eq 0 ]; then
  log "no cluster '$NAME' here; nothing to remove"
else
  log "cluster '$NAME' removed: ${removed[*]}"
fi

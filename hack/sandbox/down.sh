#!/usr/bin/env bash
# Stop a sandbox started by up.sh and delete its state.
#   down.sh [--name NAME] [--dir DIR]
set -euo pipefail
# shellcheck source=hack/sandbox/lib.sh
. "$(dirname "$0")/lib.sh"

NAME=shipyard
DIR=$SANDBOX_STATE_DIR
while [ $# -gt 0 ]; do
  case $1 in
    --name) NAME=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[ -d "$DIR" ] || { log "no sandbox state in $DIR; nothing to do"; exit 0; }
export KWOK_WORKDIR=$DIR/kwok
if [ -d "$KWOK_WORKDIR/clusters/$NAME" ] && [ -x "$SANDBOX_BIN_DIR/kwokctl" ]; then
  "$SANDBOX_BIN_DIR/kwokctl" delete cluster --name "$NAME" >/dev/null 2>&1 || log "kwokctl delete failed; removing the state anyway"
fi
# Wait until every process of this sandbox has exited (the API server takes a
# few seconds), so that its ports are free when this returns.
pattern="$KWOK_WORKDIR/clusters/$NAME"
for i in $(seq 1 60); do
  pgrep -f -- "$pattern" >/dev/null || break
  if [ "$i" -eq 1 ] || [ "$i" -eq 40 ]; then
    pkill -f -- "$pattern" 2>/dev/null || true
  fi
  if [ "$i" -eq 50 ]; then
    log "processes of '$NAME' ignore SIGTERM; killing them"
    pkill -9 -f -- "$pattern" 2>/dev/null || true
  fi
  sleep 0.5
done
pgrep -f -- "$pattern" >/dev/null && die "processes of '$NAME' are still running: $(pgrep -af -- "$pattern" | cut -c1-120)"
rm -rf "$DIR"
log "sandbox '$NAME' removed ($DIR)"

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
# Any process still running from this state dir is ours: stop it.
pids=$(pgrep -f -- "$KWOK_WORKDIR/clusters/$NAME" || true)
if [ -n "$pids" ]; then
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
fi
rm -rf "$DIR"
log "sandbox '$NAME' removed ($DIR)"

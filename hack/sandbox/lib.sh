# shellcheck shell=bash
# Shared paths and helpers for the sandbox scripts. Sourced, never run.

SANDBOX_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SANDBOX_HACK_DIR/../.." && pwd)
# shellcheck source=hack/sandbox/versions.env
. "$SANDBOX_HACK_DIR/versions.env"

SHIPYARD_CACHE=${SHIPYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipyard}
# The recipe hash: pinned versions and build revision. A change rebuilds.
SANDBOX_RECIPE=$(sha256sum <"$SANDBOX_HACK_DIR/versions.env" | cut -c1-12)
SANDBOX_BIN_DIR=${SANDBOX_BIN_DIR:-$SHIPYARD_CACHE/sandbox/bin-$SANDBOX_RECIPE}
SANDBOX_STATE_DIR=${SANDBOX_STATE_DIR:-$REPO_ROOT/.sandbox}

log() { printf '[sandbox] %s\n' "$*" >&2; }
die() { printf '[sandbox] ERROR: %s\n' "$*" >&2; exit 1; }

# port_taken PORT WHAT VARIABLE: dies naming the port, its holder and the
# variable that moves it, when 127.0.0.1:PORT cannot be bound (0: any port). TIME_WAIT
# leftovers of a previous run do not count (SO_REUSEADDR, as servers bind).
port_taken() {
  [ "$1" = 0 ] && return 0
  python3 - "$1" <<'PY' && return 0
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
  local holder
  holder=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:.*' | head -1 || true)
  die "port 127.0.0.1:$1 is taken${holder:+ by $holder}: $2 needs it; free it or set $3"
}

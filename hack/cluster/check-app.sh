#!/usr/bin/env bash
# The last step of `make up` on the local cluster: the app answers on the host,
# through its NodePort published on 127.0.0.1: PORT, else SHIPYARD_APP_PORT, else 8080
# (inventories/tenants: tenant-a's, SHIPYARD_TENANT_PORT or 8081).
#   check-app.sh [PORT]
set -euo pipefail
url=http://127.0.0.1:${1:-${SHIPYARD_APP_PORT:-8080}}
for _ in $(seq 1 60); do
  if body=$(curl -fsS --max-time 2 "$url/health" 2>/dev/null); then
    echo "up: the app answers on $url ($url/health: $body)"
    exit 0
  fi
  sleep 0.5
done
echo "up: ERROR: the app does not answer on $url/health after 30 s:" >&2
curl -sS --max-time 2 "$url/health" >&2 || true
exit 1

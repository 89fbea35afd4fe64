#!/usr/bin/env bash
# Print the folder of the pinned sandbox binaries (for tests that serve them).
set -euo pipefail
# shellcheck source=hack/sandbox/lib.sh
. "$(dirname "$0")/lib.sh"
echo "$SANDBOX_BIN_DIR"

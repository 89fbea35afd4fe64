#!/usr/bin/env bash
# `make test`: run every check offline, each stage timed, all stages even when
# one fails, then one summary line. Arguments: the Molecule scenarios.
set -uo pipefail
cd "$(dirname "$0")/.."

results=()
passed=0
failed=0
total_start=$(date +%s)

stage() { # name command...
  local name=$1 start rc; shift
  printf '\n==> %s\n' "$name"
  start=$(date +%s)
  "$@"
  rc=$?
  local took=$(($(date +%s) - start))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1)); results+=("PASS  ${took}s  $name")
  else
    failed=$((failed + 1)); results+=("FAIL  ${took}s  $name (exit $rc)")
  fi
  return $rc
}

# Leave the machine as we found it: stop a sandbox only if this run started it.
sandbox_was_up=false
if [ -f .sandbox/kubeconfig ] && .sandbox/bin/kubectl --kubeconfig .sandbox/kubeconfig get --raw /readyz --request-timeout=3s >/dev/null 2>&1; then
  sandbox_was_up=true
fi
cleanup() { [ "$sandbox_was_up" = true ] || hack/sandbox/down.sh >/dev/null 2>&1 || true; }
trap cleanup EXIT

stage setup make --no-print-directory setup || { echo "setup failed; nothing else can run" >&2; exit 1; }
mkdir -p .cache
stage docker-engine make --no-print-directory docker
stage base-images make --no-print-directory images
# The test tools build while the sandbox binaries do: both are Go builds, once.
make --no-print-directory tools >.cache/tools-build.log 2>&1 &
tools_pid=$!
stage sandbox-build make --no-print-directory sandbox-build
wait_tools() { wait "$tools_pid" || { cat .cache/tools-build.log >&2; return 1; }; }
stage test-tools wait_tools
stage lint make --no-print-directory lint
stage unit make --no-print-directory unit
stage app-tests make --no-print-directory app-test
stage manifest-scan make --no-print-directory scan
stage monitoring-tests make --no-print-directory monitoring-test
stage logging-tests make --no-print-directory logging-test
stage sandbox-up make --no-print-directory sandbox-up
stage sandbox-tests .venv/bin/pytest -q tests/sandbox
for scenario in "$@"; do
  stage "molecule $scenario" make --no-print-directory molecule SCENARIO="$scenario"
done
stage "make up" make --no-print-directory up

printf '\n==> summary (%ss in all)\n' "$(($(date +%s) - total_start))"
printf '  %s\n' "${results[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

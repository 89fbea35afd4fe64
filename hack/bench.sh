#!/usr/bin/env bash
# make bench: on fresh local clusters (a real node and a simulated one, as
# `make up` starts), time (a) the site's first converge, (b) a no-op rerun,
# (c) `kubectl apply --server-side` of the same rendered manifests into another
# fresh cluster; print the ratios (a)/(c) and (b)/(c) beside their goals.
# kubectl does not wait for rollouts, run a setup Job or check anything: (c) is
# the floor of merely sending the objects. The clusters run one after the
# other, so that the two cores are not shared between them.
# One round moves by a third on this machine, so the bench runs BENCH_ROUNDS
# rounds (3 unless set; each one (a), (b), (c) on fresh clusters) and judges
# the medians; it prints every round too. (b') (Ansible's own strategy) runs
# in the first round only: it is for the engine's share, not judged.
#   hack/bench.sh [inventory]   (make bench [ENV=tenants] [ROUNDS=n]): sandbox, or tenants (two tenants)
set -euo pipefail
inventory=${1:-sandbox}
rounds=${BENCH_ROUNDS:-3}
case $inventory in sandbox | tenants) ;; *) echo "[bench] the inventory is sandbox or tenants (the local cluster's), not $inventory" >&2; exit 2 ;; esac
case $rounds in [1-9]) ;; *) echo "[bench] BENCH_ROUNDS (make bench ROUNDS=) is a number of rounds from 1 to 9, not '$rounds'" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg PATH=$PWD/.venv/bin:$PATH
# shellcheck source=hack/cluster/lib.sh
. hack/cluster/lib.sh # free_port, site_target
work=$(mktemp -d)
cleanup() {
  for name in bench-site bench-kubectl; do
    [ -d "$work/$name" ] && hack/cluster/down.sh --dir "$work/$name" --name "$name" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
logged() {  # logged <log> <what> <command...>: its output in <log>; a failure shows the log's end and stops
  local log=$1 what=$2
  shift 2
  "$@" >"$log" 2>&1 || { tail -40 "$log" >&2; echo "[bench] ERROR: $what failed (above)" >&2; exit 1; }
}
cluster() {  # cluster <name>: a fresh local cluster in $work/<name>
  logged "$work/$1.up.log" "the start of the cluster $1" \
    hack/cluster/up.sh --name "$1" --port "$(free_port)" --app-port "$(free_port)" --tenant-port "$(free_port)" \
      --dir "$work/$1"
}

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

# The site on that cluster: its kubeconfig and context, its node's containerd for the image.
target() { site_target "$1" "$work/$1"; }
site() {  # site <log>: the site on the bench-site cluster
  logged "$1" "the site" ansible-playbook -i "inventories/$inventory" playbooks/site.yml -e "$(target bench-site)"
}
noop() {  # noop <log>: the run's recap says it changed nothing
  python3 hack/recap_unchanged.py "$1" || { echo "[bench] ERROR: the rerun changed something ($1)" >&2; exit 1; }
}
recap() { grep -A1 'PLAY RECAP' "$1" | tail -1; }

# The objects kubectl sends: the site's own render, namespaces first.
logged "$work/render.log" "the render" \
  ansible-playbook -i "inventories/$inventory" playbooks/render.yml -e shipyard_render_dir="$work/render"
python3 - "$work/render" "$work" <<'PY'
import sys, pathlib, yaml
render, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
docs = [d for p in sorted(render.glob("*/*.yml")) for d in yaml.safe_load_all(p.read_text()) if isinstance(d, dict) and "kind" in d]
first = [d for d in docs if d["kind"] == "Namespace"]
(out / "namespaces.yml").write_text(yaml.safe_dump_all(first))
(out / "objects.yml").write_text(yaml.safe_dump_all([d for d in docs if d["kind"] != "Namespace"]))
PY
kubectl=$(hack/sandbox/bin-dir.sh)/kubectl
objects=$(grep -c '^kind:' "$work/objects.yml" "$work/namespaces.yml" | awk -F: '{s+=$2} END {print s}')

: >"$work/rounds"
b2=
for round in $(seq 1 "$rounds"); do
  echo "[bench] round $round of $rounds: (a) first converge of playbooks/site.yml on inventories/$inventory on a fresh local cluster"
  cluster bench-site
  t0=$(now); site "$work/a$round.log"; t1=$(now)
  recap "$work/a$round.log"
  echo "[bench] round $round: (b) no-op rerun"
  t2=$(now); site "$work/b$round.log"; t3=$(now)
  recap "$work/b$round.log"
  noop "$work/b$round.log"
  if [ "$round" = 1 ]; then
    echo "[bench] round 1: (b') the same no-op rerun with Ansible's own strategy (ANSIBLE_STRATEGY=linear), for the engine's share"
    t6=$(now); ANSIBLE_STRATEGY=linear site "$work/b2.log"; t7=$(now)
    noop "$work/b2.log"
    b2=$(secs "$t6" "$t7")
  fi
  hack/cluster/down.sh --dir "$work/bench-site" --name bench-site >/dev/null 2>&1

  echo "[bench] round $round: (c) kubectl apply --server-side of the same $objects objects on another fresh local cluster"
  cluster bench-kubectl
  t4=$(now)
  "$kubectl" --kubeconfig "$work/bench-kubectl/kubeconfig" apply --server-side -f "$work/namespaces.yml" >/dev/null 2>>"$work/kubectl.err"
  "$kubectl" --kubeconfig "$work/bench-kubectl/kubeconfig" apply --server-side -f "$work/objects.yml" >/dev/null 2>>"$work/kubectl.err"
  t5=$(now)
  hack/cluster/down.sh --dir "$work/bench-kubectl" --name bench-kubectl >/dev/null 2>&1
  echo "$(secs "$t0" "$t1") $(secs "$t2" "$t3") $(secs "$t4" "$t5")" | tee -a "$work/rounds" | sed 's/^/[bench] (a) (b) (c) in seconds: /'
done

echo "[bench] (b') the no-op rerun with the linear strategy: ${b2}s (round 1)"
python3 hack/bench_report.py "$work/rounds" "$objects"

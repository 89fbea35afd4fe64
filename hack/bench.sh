#!/usr/bin/env bash
# make bench: on fresh local clusters (a real node and a simulated one, as
# `make up` starts), time (a) the site's first converge, (b) a no-op rerun,
# (c) `kubectl apply --server-side` of the same rendered manifests into another
# fresh cluster; print the ratios (a)/(c) and (b)/(c) beside their goals.
# kubectl does not wait for rollouts, run a setup Job or check anything: (c) is
# the floor of merely sending the objects. The clusters run one after the
# other, so that the two cores are not shared between them.
#   hack/bench.sh [inventory]   (make bench [ENV=tenants]): sandbox, or tenants (two tenants)
set -euo pipefail
inventory=${1:-sandbox}
case $inventory in sandbox | tenants) ;; *) echo "[bench] the inventory is sandbox or tenants (the local cluster's), not $inventory" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg PATH=$PWD/.venv/bin:$PATH
work=$(mktemp -d)
cleanup() {
  for name in bench-site bench-kubectl; do
    [ -d "$work/$name" ] && hack/cluster/down.sh --dir "$work/$name" --name "$name" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import sys; sys.path.insert(0, "hack"); from appserver import free_port; print(free_port())'; }
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

cluster bench-site
# The site on that cluster: its kubeconfig, its node's containerd for the image.
target() { printf '{"shipyard_k8s_auth": {"kubeconfig": "%s"}, "image_build_node_containers": ["%s-node"]}' "$work/$1/kubeconfig" "$1"; }

echo "[bench] (a) first converge of playbooks/site.yml on inventories/$inventory on a fresh local cluster"
site() {  # site <log>: the site on that cluster
  logged "$1" "the site" ansible-playbook -i "inventories/$inventory" playbooks/site.yml -e "$(target bench-site)"
}
noop() {  # noop <log>: the run's recap says it changed nothing
  python3 hack/recap_unchanged.py "$1" || { echo "[bench] ERROR: the rerun changed something" >&2; exit 1; }
}
t0=$(now); site "$work/a.log"; t1=$(now)
grep -A1 'PLAY RECAP' "$work/a.log" | tail -1
echo "[bench] (b) no-op rerun"
t2=$(now); site "$work/b.log"; t3=$(now)
grep -A1 'PLAY RECAP' "$work/b.log" | tail -1
noop "$work/b.log"
echo "[bench] (b') the same no-op rerun with Ansible's own strategy (ANSIBLE_STRATEGY=linear), for the engine's share"
t6=$(now); ANSIBLE_STRATEGY=linear site "$work/b2.log"; t7=$(now)
noop "$work/b2.log"

hack/cluster/down.sh --dir "$work/bench-site" --name bench-site >/dev/null 2>&1

echo "[bench] (c) kubectl apply --server-side of the same manifests on another fresh local cluster"
cluster bench-kubectl
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
t4=$(now)
"$kubectl" --kubeconfig "$work/bench-kubectl/kubeconfig" apply --server-side -f "$work/namespaces.yml" >/dev/null 2>>"$work/kubectl.err"
"$kubectl" --kubeconfig "$work/bench-kubectl/kubeconfig" apply --server-side -f "$work/objects.yml" >/dev/null 2>>"$work/kubectl.err"
t5=$(now)
objects=$(grep -c '^kind:' "$work/objects.yml" "$work/namespaces.yml" | awk -F: '{s+=$2} END {print s}')

a=$(secs "$t0" "$t1"); b=$(secs "$t2" "$t3"); b2=$(secs "$t6" "$t7"); c=$(secs "$t4" "$t5")
echo "[bench] (a) first converge ${a}s, (b) no-op rerun ${b}s (${b2}s with the linear strategy), (c) kubectl apply --server-side ${c}s ($objects objects)"
python3 - "$a" "$b" "$c" <<'PY'
import sys
a, b, c = map(float, sys.argv[1:])
def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"
print(f"[bench] (a)/(c) = {a / c:.1f} (goal: at most 3, {verdict(a / c <= 3)})")
print(f"[bench] (b)/(c) = {b / c:.1f} (goal: at most 2, {verdict(b / c <= 2)}); (b) = {b:.1f} s (goal: under 8 s, {verdict(b < 8)})")
PY

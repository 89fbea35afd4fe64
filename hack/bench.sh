#!/usr/bin/env bash
# make bench: on fresh sandboxes, time (a) the site's first converge, (b) a
# no-op rerun, (c) `kubectl apply --server-side` of the same rendered manifests
# into a fresh cluster; print the ratios (a)/(c) and (b)/(c).
# kubectl does not wait for rollouts, run a setup Job or check anything: (c) is
# the floor of merely sending the objects.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg PATH=$PWD/.venv/bin:$PATH
work=$(mktemp -d)
cleanup() {
  for name in bench-site bench-kubectl; do
    [ -d "$work/$name" ] && hack/sandbox/down.sh --dir "$work/$name" --name "$name" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

for name in bench-site bench-kubectl; do
  hack/sandbox/up.sh --name "$name" --port 0 --dir "$work/$name" >/dev/null 2>&1
done
auth() { printf '{"shipyard_k8s_auth": {"kubeconfig": "%s"}}' "$work/$1/kubeconfig"; }

echo "[bench] (a) first converge of playbooks/site.yml on a fresh sandbox"
t0=$(now); ansible-playbook -i inventories/sandbox playbooks/site.yml -e "$(auth bench-site)" >"$work/a.log"; t1=$(now)
grep -A1 'PLAY RECAP' "$work/a.log" | tail -1
echo "[bench] (b) no-op rerun"
t2=$(now); ansible-playbook -i inventories/sandbox playbooks/site.yml -e "$(auth bench-site)" >"$work/b.log"; t3=$(now)
grep -A1 'PLAY RECAP' "$work/b.log" | tail -1
python3 hack/recap_unchanged.py "$work/b.log" || { echo "[bench] ERROR: the rerun changed something" >&2; exit 1; }

echo "[bench] (c) kubectl apply --server-side of the same manifests on another fresh sandbox"
ansible-playbook -i inventories/sandbox playbooks/render.yml -e shipyard_render_dir="$work/render" >/dev/null
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
"$kubectl" --kubeconfig "$work/bench-kubectl/kubeconfig" apply --server-side -f "$work/namespaces.yml" >/dev/null
"$kubectl" --kubeconfig "$work/bench-kubectl/kubeconfig" apply --server-side -f "$work/objects.yml" >/dev/null
t5=$(now)
objects=$(grep -c '^kind:' "$work/objects.yml" "$work/namespaces.yml" | awk -F: '{s+=$2} END {print s}')

a=$(secs "$t0" "$t1"); b=$(secs "$t2" "$t3"); c=$(secs "$t4" "$t5")
echo "[bench] (a) first converge ${a}s, (b) no-op rerun ${b}s, (c) kubectl apply --server-side ${c}s ($objects objects)"
python3 -c "print(f'[bench] ratios: (a)/(c) = {$a / $c:.1f}, (b)/(c) = {$b / $c:.1f}')"

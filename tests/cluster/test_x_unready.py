"""A workload that does not become ready fails the run, and every rerun, naming it.

Before this test the logging and monitoring roles waited for readiness only
after an apply that changed something: a rerun after a rollout that timed out
applied nothing new and passed green. Here Grafana is given a nodeSelector no
node matches (its pod stays Pending on any cluster), the run fails naming the
Deployment, the rerun fails the same way, and the inventory's own placement
brings it back. Proves a scheduling outcome (Pending), not a container.
"""

from __future__ import annotations

import json
import re

from realpods import MONITORING_NAMESPACE as NAMESPACE
from realpods import ansible_playbook, kubectl_json, wait_for

# The sandbox inventory's placement (placement.yml) with one more label that no node has.
SIMULATED = {
    "nodeSelector": {"type": "kwok"},
    "tolerations": [
        {"key": "node.shipyard.dev/simulated", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ],
}
NOWHERE = {**SIMULATED, "nodeSelector": {"type": "kwok", "shipyard.test/nowhere": "true"}}


def recap_changed(out: str) -> int:
    found = re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)", out)
    assert found, out[-2000:]
    return int(found.group(1))


def test_an_unready_workload_fails_every_run_naming_it(cluster) -> None:
    placement = {"grafana": NOWHERE, "kube_state_metrics": SIMULATED}
    broken = json.dumps({"monitoring_placement": placement, "monitoring_rollout_timeout": 15})
    try:
        first = ansible_playbook("playbooks/site.yml", "--tags", "monitoring", "-e", broken)
        assert first.returncode != 0, first.stdout[-3000:]
        # The rollout keeps the old pod serving while the new one is Pending.
        named = f"Deployment {NAMESPACE}/grafana: 1/1 ready, 1 updated, 1 old still running"
        assert named in first.stdout, first.stdout[-3000:]
        assert "after 15 s (monitoring_rollout_timeout)" in first.stdout

        # The rerun applies nothing new; it must still end failed, naming the same workload.
        again = ansible_playbook("playbooks/site.yml", "--tags", "monitoring", "-e", broken)
        assert again.returncode != 0, again.stdout[-3000:]
        assert named in again.stdout, again.stdout[-3000:]
        assert recap_changed(again.stdout) == 0, "the rerun changed objects: " + again.stdout[-3000:]
        for other in ("prometheus", "alertmanager", "kube-state-metrics"):
            assert f"/{other}:" not in again.stdout, f"{other} is ready and was named: {again.stdout[-3000:]}"
    finally:
        healed = ansible_playbook("playbooks/site.yml", "--tags", "monitoring")
    assert healed.returncode == 0, healed.stdout[-3000:]
    grafana = kubectl_json("-n", NAMESPACE, "get", "deployment", "grafana")
    assert grafana["status"].get("availableReplicas") == 1
    wait_for(
        "no Pending Grafana pod",
        lambda: all(
            p["status"]["phase"] != "Pending"
            for p in kubectl_json("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=grafana")["items"]
        ),
        timeout=60,
    )

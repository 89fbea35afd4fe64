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

from realpods import APP_NAMESPACE, ansible_playbook, kubectl_json, wait_for
from realpods import MONITORING_NAMESPACE as NAMESPACE
from tenantsite import recap

# The sandbox inventory's placement (placement.yml) with one more label that no node has.
SIMULATED = {
    "nodeSelector": {"type": "kwok"},
    "tolerations": [
        {"key": "node.shipyard.dev/simulated", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ],
}
NOWHERE = {**SIMULATED, "nodeSelector": {"type": "kwok", "shipyard.test/nowhere": "true"}}


def test_an_unready_workload_fails_every_run_naming_it(cluster) -> None:
    placement = {"grafana": NOWHERE, "kube_state_metrics": SIMULATED}
    # A Pending pod never becomes ready, so a short timeout proves as much as a long one.
    broken = json.dumps({"monitoring_placement": placement, "monitoring_rollout_timeout": 8})
    try:
        first = ansible_playbook("playbooks/site.yml", "--tags", "monitoring", "-e", broken)
        assert first.returncode != 0, first.stdout[-3000:]
        # The rollout keeps the old pod serving while the new one is Pending.
        named = f"Deployment {NAMESPACE}/grafana: 1/1 ready, 1 updated, 1 old still running"
        assert named in first.stdout, first.stdout[-3000:]
        assert "after 8 s (monitoring_rollout_timeout)" in first.stdout

        # The rerun applies nothing new; it must still end failed, naming the same workload.
        again = ansible_playbook("playbooks/site.yml", "--tags", "monitoring", "-e", broken)
        assert again.returncode != 0, again.stdout[-3000:]
        assert named in again.stdout, again.stdout[-3000:]
        assert recap(again.stdout)["localhost"][0] == 0, "the rerun changed objects: " + again.stdout[-3000:]
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


def test_an_app_that_cannot_roll_out_fails_the_site_at_its_wait_after_the_other_stacks(cluster) -> None:
    """The site applies logging, monitoring and the hardening while the app rolls out, and waits for it last.

    A CPU limit above the namespace's LimitRange (the hardening's: at most 4 per container) keeps
    the new ReplicaSet from creating pods. The run must still fail, naming the refusal, in the wait
    before the summary, and only after the other stacks' plays ran. Real pods: the app's old
    replicas keep running on the real node, and the repaired run rolls back to them."""
    resources = {"requests": {"cpu": "5", "memory": "128Mi"}, "limits": {"cpu": "6", "memory": "256Mi"}}
    broken = json.dumps({"app_deploy_resources": resources, "app_deploy_rollout_timeout": 60})
    try:
        run = ansible_playbook("playbooks/site.yml", "-e", broken)
        assert run.returncode != 0, run.stdout[-3000:]
        assert "did not roll out" in run.stdout, run.stdout[-3000:]
        assert "maximum cpu usage per Container is 4, but limit is 6" in run.stdout, run.stdout[-3000:]
        plays = [
            "Deploy the app",
            "Deploy the monitoring stack",
            "Harden the managed namespaces",
            "Wait until the app is rolled out and ready",
        ]
        where = [run.stdout.find(f"PLAY [{play}]") for play in plays]
        assert -1 not in where and where == sorted(where), where
        failed = run.stdout[where[-1] :]
        assert "did not roll out" in failed, "the failure is not the wait's: " + run.stdout[-3000:]
        assert "PLAY [Report where to look]" not in run.stdout
    finally:
        healed = ansible_playbook("playbooks/site.yml", "--tags", "app")
    assert healed.returncode == 0, healed.stdout[-3000:]
    app = kubectl_json("-n", APP_NAMESPACE, "get", "deployment", "shipyard-app")
    want = app["spec"]["replicas"]
    assert app["status"].get("availableReplicas") == want == app["status"].get("updatedReplicas"), app["status"]

"""Two tenants on the local cluster's real node, after `make up ENV=tenants` (inventories/tenants); `make
tenants-test` runs them on a cluster of its own (hack/tenants_test.sh).

Real containers: each tenant's app, PostgreSQL and nginx frontend run on the
real node; the isolation is tried from probe pods carrying a tenant's
workload labels, against the other tenant's real pods, with kube-router
enforcing the policies. The RBAC checks ask the real API server.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from netpol_flows import Flow, tenant_flows
from realpods import (
    ANSIBLE_ENV,
    KUBECONFIG,
    KUBECTL,
    NODE_CONTAINER,
    PROBE_IMAGE,
    ROOT,
    TARGET,
    Probes,
    kubectl,
    kubectl_json,
    load_image,
    wait_for,
)
from tenantsite import INVENTORY, TENANTS, site


@pytest.fixture(scope="module")
def cluster() -> Path:
    if not KUBECONFIG.is_file():
        pytest.fail(f"{KUBECONFIG} is missing: run 'make up ENV=tenants' first")
    for tenant in TENANTS:
        if kubectl("get", "namespace", tenant, check=False).returncode != 0:
            pytest.fail(f"namespace {tenant} is missing: run 'make up ENV=tenants' first")
    return KUBECONFIG


def test_each_tenant_runs_its_own_app_database_and_frontend(cluster: Path) -> None:
    for tenant in TENANTS:
        ns = kubectl_json("get", "namespace", tenant)
        assert ns["metadata"]["labels"]["shipyard.dev/tenant"] == tenant
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        for kind, name in [("deployment", "shipyard-app"), ("statefulset", "shipyard-app-postgresql"),
                           ("deployment", "shipyard-app-frontend")]:  # fmt: skip
            obj = kubectl_json("-n", tenant, "get", kind, name)
            assert obj["status"].get("readyReplicas", 0) >= 1, f"{tenant} {kind}/{name}: {obj['status']}"
        pods = kubectl_json("-n", tenant, "get", "pods", "-l", "app.kubernetes.io/instance=shipyard-app")["items"]
        for pod in pods:
            if pod["status"]["phase"] == "Running":
                # Real containers from containerd on the real node, not the simulated one.
                assert pod["spec"]["nodeName"] == NODE_CONTAINER, pod["metadata"]["name"]
                assert pod["status"]["containerStatuses"][0]["containerID"].startswith("containerd://")
        # Its own quota, limits, autoscaler, deployer and ingress host.
        assert kubectl_json("-n", tenant, "get", "resourcequota", "shipyard")["spec"]["hard"]["pods"] == "40"
        kubectl("-n", tenant, "get", "limitrange", "shipyard")
        kubectl("-n", tenant, "get", "serviceaccount", "deployer")
        hpa = kubectl_json("-n", tenant, "get", "hpa", "shipyard-app")
        assert hpa["spec"]["maxReplicas"] == (3 if tenant == "tenant-b" else 2)
        ingress = kubectl_json("-n", tenant, "get", "ingress", "shipyard-app")
        assert ingress["spec"]["rules"][0]["host"] == f"{tenant}.shipyard.localtest.me"
    # The secrets are each tenant's own.
    tokens = {
        t: kubectl_json("-n", t, "get", "secret", "shipyard-app-secrets")["data"]["APP_API_TOKEN"] for t in TENANTS
    }
    assert tokens["tenant-a"] != tokens["tenant-b"]


def test_prometheus_scrapes_every_tenant_and_labels_it(cluster: Path) -> None:
    # The real Prometheus pod, through the API server's service proxy: each tenant's app pods are up
    # and carry the tenant, and the rules watch each tenant's namespace.
    query = urllib.parse.quote('count by (namespace, tenant) (up{job="shipyard-app"} == 1)')
    path = f"/api/v1/namespaces/shipyard-monitoring/services/prometheus:web/proxy/api/v1/query?query={query}"

    def labelled() -> set[tuple[str, str]]:
        result = json.loads(kubectl("get", "--raw", path).stdout)["data"]["result"]
        return {(r["metric"].get("namespace"), r["metric"].get("tenant")) for r in result}

    wait_for("both tenants' app pods scraped with their tenant label",
             lambda: {(t, t) for t in TENANTS} <= labelled(), timeout=120, every=5)  # fmt: skip
    rules = kubectl_json("-n", "shipyard-monitoring", "get", "configmap", "prometheus-rules")["data"]
    rules = "\n".join(rules.values())
    for tenant in TENANTS:
        assert f'namespace="{tenant}"' in rules and f"tenant: {tenant}" in rules


@pytest.fixture(scope="module")
def network(cluster: Path) -> Iterator[dict]:
    """Probe pods with each tenant's workload labels; the other tenant's real pods as destinations."""
    load_image(PROBE_IMAGE)
    allowed, denied = tenant_flows(TENANTS)
    probes = Probes(PROBE_IMAGE)
    created = []
    if kubectl("get", "namespace", "ingress-nginx", check=False).returncode != 0:
        kubectl("create", "namespace", "ingress-nginx")
        created.append("ingress-nginx")
    flows = {**allowed, **denied}
    sources = {}
    addresses = {}
    try:
        for flow in flows.values():
            dst = flow.destination
            if dst not in addresses:
                addresses[dst] = real_pod_ip(dst.namespace, dst.labels)
        # Prometheus too is a probe with its labels: the real one's scrapes are the test above.
        peers = list({f.source for f in flows.values()})
        sources.update(zip(peers, probes.start_all([(p.namespace, p.labels, []) for p in peers]), strict=True))
        probes.wait_ready()
        yield {"allowed": allowed, "denied": denied, "sources": sources, "addresses": addresses, "probes": probes}
    finally:
        probes.remove()
        for namespace in created:
            kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def real_pod_ip(namespace: str, labels: dict[str, str]) -> str:
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    for pod in kubectl_json("-n", namespace, "get", "pods", "-l", selector)["items"]:
        if pod["status"].get("phase") == "Running" and "shipyard.dev/test-probe" not in pod["metadata"]["labels"]:
            return pod["status"]["podIP"]
    pytest.fail(f"no running pod {selector} in {namespace}")


def connects(network: dict, flows: dict[str, Flow]) -> dict[str, bool]:
    """Whether each flow connects from its source's probe pod (one exec per source, its flows at once)."""
    sources = network["sources"]
    tries = {n: (f.source.namespace, sources[f.source], (network["addresses"][f.destination], f.port, "TCP"))
             for n, f in flows.items()}  # fmt: skip
    return network["probes"].reach_all(tries)


def test_each_tenant_reaches_its_own_workloads_from_real_pods(network: dict) -> None:
    result = connects(network, network["allowed"])
    assert [n for n, ok in result.items() if not ok] == [], result


def test_no_workload_of_one_tenant_reaches_the_other_from_real_pods(network: dict) -> None:
    # Both ways: every workload of A to B's app, database and frontend, and of B to A's.
    result = connects(network, network["denied"])
    assert len(result) == 24
    assert [n for n, ok in result.items() if ok] == [], result


def test_the_flows_into_a_tenant_connect_without_its_policies(network: dict) -> None:
    """The control: with both tenants' policies removed (tenant-a's deny its egress, tenant-b's their
    ingress), tenant-a's pods reach tenant-b's, so the test above can fail; the security play puts
    them back and the flows are denied again."""
    into_b = {n: f for n, f in network["denied"].items() if f.destination.namespace == "tenant-b"}
    for tenant in TENANTS:
        kubectl("-n", tenant, "delete", "networkpolicy", "--all")
    try:
        opened = connects(network, into_b)
    finally:
        restored = site(INVENTORY, "--tags", "security")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert [n for n, ok in opened.items() if not ok] == [], opened
    again = connects(network, into_b)
    assert [n for n, ok in again.items() if ok] == [], again


def test_a_tenants_app_cannot_read_the_other_tenants_data_over_http(network: dict) -> None:
    # tenant-a's app (a probe with its labels) asks tenant-b's app for its items through cluster DNS
    # and tenant-b's Service: no answer.
    probes: Probes = network["probes"]
    source = next(p for p in network["sources"] if p.namespace == "tenant-a" and p.name.endswith(" app"))
    code = (
        "import urllib.request, sys\n"
        "try:\n"
        "    urllib.request.urlopen('http://shipyard-app.tenant-b.svc.cluster.local/api/items', timeout=3)\n"
        "except OSError:\n"
        "    sys.exit(1)\n"
    )
    assert not probes.run("tenant-a", network["sources"][source], code)
    # The control: tenant-a's frontend (the one workload its app accepts from its namespace) gets
    # an answer from its own tenant's app by the same kind of request.
    own = code.replace("tenant-b.svc", "tenant-a.svc").replace("/api/items", "/health")
    frontend = next(p for p in network["sources"] if p.namespace == "tenant-a" and p.name.endswith("frontend"))
    assert probes.run("tenant-a", network["sources"][frontend], own)


def subject_access(user: str, namespace: str, verb: str, resource: str, group: str = "apps") -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"],
                 "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group, "resource": resource}},
    }  # fmt: skip
    out = kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(review)).stdout
    return json.loads(out)["status"].get("allowed", False)


def test_each_tenants_deployer_is_confined_to_its_namespace(cluster: Path, tmp_path: Path) -> None:
    for own, other in [("tenant-a", "tenant-b"), ("tenant-b", "tenant-a")]:
        user = f"system:serviceaccount:{own}:deployer"
        assert subject_access(user, own, "patch", "deployments")
        assert subject_access(user, own, "get", "secrets", group="")
        assert not subject_access(user, other, "patch", "deployments")
        assert not subject_access(user, other, "get", "secrets", group="")
    # A real request with the deployer's token, handed out as CI gets it.
    out = tmp_path / "deployer-a.kubeconfig"
    run = subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, "playbooks/deployer-kubeconfig.yml", *TARGET, "--limit", "tenant-a",
         "-e", f"out={out}"],
        cwd=ROOT, env=ANSIBLE_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    token = yaml.safe_load(out.read_text())["users"][0]["user"]["token"]
    assert token not in run.stdout  # never printed
    kubectl_bin = str(KUBECTL)
    mine = subprocess.run([kubectl_bin, "--kubeconfig", str(out), "-n", "tenant-a", "get", "deployments", "-o", "name"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert mine.returncode == 0 and "deployment.apps/shipyard-app" in mine.stdout, mine.stderr
    theirs = subprocess.run([kubectl_bin, "--kubeconfig", str(out), "-n", "tenant-b", "get", "secrets", "-v=6"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert theirs.returncode != 0
    assert "403 Forbidden" in theirs.stderr and 'cannot list resource "secrets"' in theirs.stderr, theirs.stderr

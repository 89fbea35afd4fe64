"""Prove the sandbox is a real Kubernetes control plane, not a stand-in.

Each check has its positive control, so a permissive or broken API fails it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

ROOT = Path(__file__).resolve().parents[2]


def pinned(key: str) -> str:
    for line in (ROOT / "hack/sandbox/versions.env").read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    raise KeyError(key)


def test_api_reports_the_pinned_version(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert info.git_version == pinned("KUBE_VERSION")


def test_api_listens_on_loopback_only(sandbox: Path) -> None:
    port = (sandbox / "port").read_text().strip()
    listeners = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in listeners.splitlines()}
    assert addresses == {"127.0.0.1"}, listeners


def test_simulated_node_is_ready(api: client.ApiClient) -> None:
    nodes = client.CoreV1Api(api).list_node().items
    assert nodes, "no node registered"
    ready = {n.metadata.name: any(c.type == "Ready" and c.status == "True" for c in n.status.conditions) for n in nodes}
    assert all(ready.values()), ready


def _deployment(name: str, security_context: dict | None = None, replicas: int = 2) -> dict:
    container = {"name": "app", "image": "localhost/shipyard/app:test"}
    if security_context:
        container["securityContext"] = security_context
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def test_deployment_becomes_available(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, _deployment("web", replicas=2))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = apps.read_namespaced_deployment_status("web", namespace).status
        available = any(c.type == "Available" and c.status == "True" for c in status.conditions or [])
        if available and status.ready_replicas == 2:
            break
        time.sleep(1)
    else:
        pytest.fail(f"deployment not Available after 60s: {status}")
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 2
    assert all(p.spec.node_name and p.status.phase == "Running" for p in pods)


def _can(api: client.ApiClient, user: str, namespace: str, verb: str, resource: str) -> bool:
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            resource_attributes=client.V1ResourceAttributes(namespace=namespace, verb=verb, resource=resource),
        )
    )
    return client.AuthorizationV1Api(api).create_subject_access_review(review).status.allowed


def test_rbac_denies_a_service_account_without_binding(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="ci")))
    user = f"system:serviceaccount:{namespace}:ci"
    assert not _can(api, user, namespace, "list", "pods")

    # The real request with the account's own token is refused too.
    token = core.create_namespaced_service_account_token(
        "ci", namespace, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    ).status.token
    cfg = client.Configuration()
    cfg.host = api.configuration.host
    cfg.ssl_ca_cert = api.configuration.ssl_ca_cert
    cfg.api_key = {"authorization": f"Bearer {token}"}
    as_ci = client.CoreV1Api(client.ApiClient(cfg))
    with pytest.raises(ApiException) as denied:
        as_ci.list_namespaced_pod(namespace)
    assert denied.value.status == 403

    # Positive control: a RoleBinding grants exactly that, and the same token now works.
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "ci-pod-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": namespace}],
        },
    )
    assert _can(api, user, namespace, "list", "pods")
    assert not _can(api, user, namespace, "delete", "pods")
    as_ci.list_namespaced_pod(namespace)


RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
COMPLIANT = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _pod(name: str, security_context: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "localhost/x:1", "securityContext": security_context}]},
    }


@pytest.mark.ns_labels(RESTRICTED)
def test_pod_security_rejects_a_privileged_pod(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as rejected:
        core.create_namespaced_pod(namespace, _pod("priv", {"privileged": True}))
    assert rejected.value.status == 403
    assert "violates PodSecurity" in rejected.value.body
    # Positive control: a pod meeting `restricted` is admitted in the same namespace.
    core.create_namespaced_pod(namespace, _pod("ok", COMPLIANT))


def test_second_up_returns_at_once(sandbox: Path, up_command: list[str]) -> None:
    start = time.monotonic()
    out = subprocess.run(up_command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert time.monotonic() - start < 5
    assert "already running" in out.stderr


def test_up_refuses_a_taken_port(sandbox: Path, tmp_path: Path) -> None:
    port = (sandbox / "port").read_text().strip()
    out = subprocess.run(
        ["hack/sandbox/up.sh", "--name", "taken", "--port", port, "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert f"port 127.0.0.1:{port} is taken" in out.stderr


def test_a_statefulset_claim_binds_and_its_pod_runs(api: client.ApiClient, namespace: str) -> None:
    # A claim with no class gets the default class and binds to a pooled volume
    # through the real PersistentVolume controller; the pod is then scheduled.
    stateful = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "localhost/db:1", "volumeMounts": [
                    {"name": "data", "mountPath": "/data"}]}]},
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
        },
    }  # fmt: skip
    client.AppsV1Api(api).create_namespaced_stateful_set(namespace, stateful)
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        claims = core.list_namespaced_persistent_volume_claim(namespace).items
        pods = core.list_namespaced_pod(namespace, label_selector="app=db").items
        if claims and claims[0].status.phase == "Bound" and pods and pods[0].status.phase == "Running":
            break
        time.sleep(1)
    else:
        pytest.fail(f"claim {[c.status.phase for c in claims]}, pods {[p.status.phase for p in pods]} after 60s")
    assert claims[0].spec.storage_class_name == "sandbox"

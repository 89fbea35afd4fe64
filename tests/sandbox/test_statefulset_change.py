"""A change to a StatefulSet field that Kubernetes forbids to change is found before anything is applied.

Changing PostgreSQL's claim size used to end half-way with the API's raw
"StatefulSet.apps ... is invalid: spec: Forbidden: updates to statefulset spec
for fields other than ...", after the role had already applied other objects.
Now the role's preflight finds it: it refuses naming the variable (and applies
nothing), recreates the StatefulSet around its pod and claim when confirmed,
and grows the claim in place where the StorageClass allows volume expansion.
The sandbox is simulated (kwok): the test proves what the API accepts and
keeps, not that PostgreSQL runs (tests/cluster does that on a real node).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAME = "stschange"
DIR = ROOT / ".cache" / "sim-stschange"
NAMESPACE = "sts-change"
KUBECTL = subprocess.run(
    ["bash", "-c", ". hack/sandbox/lib.sh; echo $SANDBOX_BIN_DIR/kubectl"], cwd=ROOT, capture_output=True, text=True,
    check=True,
).stdout.strip()  # fmt: skip


@pytest.fixture(scope="module")
def kubeconfig() -> Iterator[Path]:
    subprocess.run(["hack/sandbox/up.sh", "--name", NAME, "--port", "0", "--dir", str(DIR)], cwd=ROOT, check=True)
    yield DIR / "kubeconfig"
    subprocess.run(["hack/sandbox/down.sh", "--name", NAME, "--dir", str(DIR)], cwd=ROOT, check=True)


def kubectl(kubeconfig: Path, *args: str) -> str:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, check=True
    ).stdout


def get(kubeconfig: Path, *args: str) -> dict:
    return json.loads(kubectl(kubeconfig, "-n", NAMESPACE, "get", *args, "-o", "json"))


APP = {
    "app_deploy_namespace": NAMESPACE,
    "app_deploy_image_reference": "localhost/shipyard/app:simulated",
    "app_deploy_database": "postgresql",
    "app_deploy_hpa_enabled": False,
    "app_deploy_postgres_storage_size": "256Mi",
}


def converge(
    kubeconfig: Path, tmp_path: Path, role: str = "app_deploy", **variables: object
) -> subprocess.CompletedProcess:
    (tmp_path / "vars.json").write_text(json.dumps({**(APP if role == "app_deploy" else {}), **variables}))
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
         "-e", f"@{tmp_path / 'vars.json'}", f"molecule/{role}/converge.yml"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
             "K8S_AUTH_KUBECONFIG": str(kubeconfig)},
    )  # fmt: skip


def test_a_forbidden_change_is_refused_then_recreated_or_resized(kubeconfig: Path, tmp_path: Path) -> None:
    first = converge(kubeconfig, tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    claim = get(kubeconfig, "pvc", "data-shipyard-app-postgresql-0")
    config_before = get(kubeconfig, "configmap", "shipyard-app")["metadata"]["resourceVersion"]

    # 1. A larger size on a class without volume expansion: refused, naming the variable, nothing applied.
    refused = converge(kubeconfig, tmp_path, app_deploy_postgres_storage_size="1Gi", app_deploy_log_level="DEBUG")
    out = " ".join(refused.stdout.split())
    assert refused.returncode != 0
    assert "volumeClaimTemplates[data] storage 256Mi -> 1Gi" in out, refused.stdout[-3000:]
    assert "app_deploy_postgres_storage_size" in out and "app_deploy_statefulset_recreate=true" in out
    assert "Nothing was applied" in out
    assert "Forbidden: updates to statefulset spec" not in out
    assert get(kubeconfig, "configmap", "shipyard-app")["metadata"]["resourceVersion"] == config_before

    # 2. Confirmed: recreated around its claim, which is kept (same object).
    recreated = converge(kubeconfig, tmp_path, app_deploy_postgres_storage_size="1Gi",
                         app_deploy_statefulset_recreate=True)  # fmt: skip
    assert recreated.returncode == 0, recreated.stdout[-3000:]
    sts = get(kubeconfig, "statefulset", "shipyard-app-postgresql")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    kept = get(kubeconfig, "pvc", "data-shipyard-app-postgresql-0")
    assert kept["metadata"]["uid"] == claim["metadata"]["uid"]

    # 3. On a class that allows expansion, a larger size needs no confirmation: the claim grows in place.
    kubectl(kubeconfig, "patch", "storageclass", "sandbox", "-p", '{"allowVolumeExpansion": true}')
    try:
        resized = converge(kubeconfig, tmp_path, app_deploy_postgres_storage_size="2Gi")
    finally:
        kubectl(kubeconfig, "patch", "storageclass", "sandbox", "-p", '{"allowVolumeExpansion": null}')
    assert resized.returncode == 0, resized.stdout[-3000:]
    grown = get(kubeconfig, "pvc", "data-shipyard-app-postgresql-0")
    assert grown["metadata"]["uid"] == claim["metadata"]["uid"]
    assert grown["spec"]["resources"]["requests"]["storage"] == "2Gi"
    sts = get(kubeconfig, "statefulset", "shipyard-app-postgresql")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"

    # 4. And the run after changes nothing.
    again = converge(kubeconfig, tmp_path, app_deploy_postgres_storage_size="2Gi")
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-2000:]


def test_a_switch_of_the_logging_profile_is_refused_before_anything_changes(kubeconfig: Path, tmp_path: Path) -> None:
    """The issue's path: a converged dev logging stack, then the prod profile (2Gi -> 50Gi claims)."""
    kubectl(kubeconfig, "create", "namespace", "molecule-app")
    dev = converge(kubeconfig, tmp_path, role="logging", logging_rollout_timeout=180)
    assert dev.returncode == 0, dev.stdout[-3000:]
    kibana = json.loads(kubectl(kubeconfig, "-n", "molecule-logging", "get", "deployment", "kibana", "-o", "json"))

    prod = converge(kubeconfig, tmp_path, role="logging", logging_profile="prod", logging_rollout_timeout=180)
    out = " ".join(prod.stdout.split())
    assert prod.returncode != 0
    assert "StatefulSet molecule-logging/elasticsearch: volumeClaimTemplates[data] storage 2Gi -> 50Gi" in out, out[
        -3000:
    ]
    assert "logging_profile" in out and "logging_statefulset_recreate=true" in out
    after = json.loads(kubectl(kubeconfig, "-n", "molecule-logging", "get", "deployment", "kibana", "-o", "json"))
    assert after["metadata"]["generation"] == kibana["metadata"]["generation"], "Kibana changed before the refusal"

    # Confirmed: Elasticsearch is recreated with the prod profile's nodes, which talk over transport TLS:
    # the first run makes the CA and node certificate once, the run after keeps them and changes nothing.
    confirmed = converge(kubeconfig, tmp_path, role="logging", logging_profile="prod", logging_rollout_timeout=180,
                         logging_statefulset_recreate=True)  # fmt: skip
    assert confirmed.returncode == 0, confirmed.stdout[-3000:]
    certs = json.loads(kubectl(kubeconfig, "-n", "molecule-logging", "get", "secret", "elasticsearch-transport-certs",
                               "-o", "json"))["data"]  # fmt: skip
    assert {"ca.crt", "tls.crt", "tls.key"} <= set(certs), sorted(certs)
    again = converge(kubeconfig, tmp_path, role="logging", logging_profile="prod", logging_rollout_timeout=180)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
    kept = json.loads(kubectl(kubeconfig, "-n", "molecule-logging", "get", "secret", "elasticsearch-transport-certs",
                              "-o", "json"))["data"]  # fmt: skip
    assert kept == certs, "the rerun made new transport certificates"

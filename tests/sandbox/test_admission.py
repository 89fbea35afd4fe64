"""Every pod template the site renders is admitted as a Pod by the sandbox's
real Pod Security admission, in a namespace labelled like its own (a
server-side dry run: enforce judges Pods, not Deployments). Only the log
shipper needs more than restricted, and restricted refuses it."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def render(out: Path) -> list[dict]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    run = subprocess.run(
        ["ansible-playbook", "-i", "inventories/sandbox", "playbooks/render.yml", "-e", f"shipyard_render_dir={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    docs = [d for p in sorted(out.rglob("*.yml")) for d in yaml.safe_load_all(p.read_text()) if isinstance(d, dict)]
    return [d for d in docs if "kind" in d and "apiVersion" in d]  # manifests, not the configuration files


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return render(tmp_path_factory.mktemp("render"))


@pytest.fixture(scope="module")
def namespaces(api: client.ApiClient, rendered: list[dict]) -> Iterator[dict[str, str]]:
    """A fresh copy of every rendered namespace, with its Pod Security labels: rendered name -> test name."""
    core = client.CoreV1Api(api)
    suffix = uuid.uuid4().hex[:6]
    made: dict[str, str] = {}
    try:
        for doc in rendered:
            if doc["kind"] == "Namespace":
                name = f"{doc['metadata']['name'][:50]}-{suffix}"
                labels = {k: v for k, v in doc["metadata"]["labels"].items() if k.startswith("pod-security.")}
                core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
                made[doc["metadata"]["name"]] = name
        yield made
    finally:
        for name in made.values():
            core.delete_namespace(name)


def as_pod(workload: dict, namespace: str) -> dict:
    spec = dict(workload["spec"]["template"]["spec"])
    # Only Pod Security is under test: the ServiceAccounts are not created here.
    spec["serviceAccountName"] = "default"
    # A StatefulSet's controller adds a claim volume per template, as here.
    claims = workload["spec"].get("volumeClaimTemplates", [])
    spec["volumes"] = spec.get("volumes", []) + [
        {"name": c["metadata"]["name"], "persistentVolumeClaim": {"claimName": f"{c['metadata']['name']}-probe-0"}}
        for c in claims
    ]
    name = f"probe-{workload['metadata']['name']}"[:60]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def dry_run(api: client.ApiClient, pod: dict) -> str | None:
    """None when admitted, else the refusal."""
    try:
        client.CoreV1Api(api).create_namespaced_pod(pod["metadata"]["namespace"], pod, dry_run="All")
    except ApiException as error:
        return f"{error.status}: {error.body}"
    return None


def test_every_pod_template_is_admitted_in_its_namespace(
    api: client.ApiClient, rendered: list[dict], namespaces: dict[str, str]
) -> None:
    workloads = [d for d in rendered if d["kind"] in WORKLOADS]
    assert len(workloads) >= 10
    refused = {}
    for workload in workloads:
        target = namespaces[workload["metadata"]["namespace"]]
        refusal = dry_run(api, as_pod(workload, target))
        if refusal:
            refused[f"{workload['kind']}/{workload['metadata']['name']}"] = refusal
    assert refused == {}
    print(f"{len(workloads)} pod templates admitted")


def test_only_the_shipper_needs_more_than_restricted(
    api: client.ApiClient, rendered: list[dict], namespaces: dict[str, str]
) -> None:
    restricted = next(namespaces[d["metadata"]["name"]] for d in rendered if d["kind"] == "Namespace"
                      and d["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted")  # fmt: skip
    verdicts = {d["metadata"]["name"]: dry_run(api, as_pod(d, restricted)) for d in rendered if d["kind"] in WORKLOADS}
    needs_more = {name for name, refusal in verdicts.items() if refusal}
    assert needs_more == {"filebeat"}, {n: verdicts[n] for n in needs_more}
    assert "violates PodSecurity" in verdicts["filebeat"] and "hostPath" in verdicts["filebeat"]
    privileged = [d for d in rendered if d["kind"] == "Namespace"
                  and d["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] != "restricted"]  # fmt: skip
    assert [d["metadata"]["name"] for d in privileged] == ["shipyard-logging-agent"]

"""The manifests the site renders pass checkov, but for reviewed exceptions."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXCEPTIONS = yaml.safe_load((ROOT / "tests/security/checkov-exceptions.yml").read_text())


INVENTORIES = ["sandbox", "tenants", "kind", "remote", "staging", "cluster", "sandbox+bucket"]
# What an inventory can switch on that none of the examples does: backups to a bucket.
OPTIONS = {
    "bucket": {
        "shipyard_backup_bucket": {"endpoint": "https://s3.example.com", "bucket": "backups",
                                   "egress": ["203.0.113.10/32"]},
        "app_deploy_backup_bucket_access_key_id": "placeholder",
        "app_deploy_backup_bucket_secret_access_key": "placeholder",
    },
}  # fmt: skip


@pytest.fixture(scope="module", params=INVENTORIES)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    inventory, *options = request.param.split("+")
    out = tmp_path_factory.mktemp(f"render-{request.param.replace('+', '-')}")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    extra = [arg for option in options for arg in ("-e", json.dumps(OPTIONS[option]))]
    subprocess.run(
        ["ansible-playbook", "-i", f"inventories/{inventory}", "playbooks/render.yml",
         "-e", f"shipyard_render_dir={out}", *extra],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    assert list(out.rglob("*.yml")), "nothing was rendered"
    return out


def findings(directory: Path, min_passed: int) -> list[dict]:
    run = subprocess.run(
        [str(ROOT / "hack/checkov.sh"), "-d", str(directory), "--framework", "kubernetes", "--skip-download",
         "--quiet", "-o", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    passed = sum(r["summary"]["passed"] for r in reports)
    assert passed >= min_passed, f"checkov ran too few checks ({passed} passed): is it scanning the manifests?"
    return failed


def test_every_finding_is_a_reviewed_exception(rendered: Path) -> None:
    failed = findings(rendered, min_passed=150)
    unexplained = [
        f"{f['check_id']} {f['resource']} ({f['check_name']})"
        for f in failed
        if not any(e["check"] == f["check_id"] and re.search(e["resource"], f["resource"]) for e in EXCEPTIONS)
    ]
    assert unexplained == [], "checkov findings with no reviewed exception:\n" + "\n".join(unexplained)
    stale = [
        e["check"]
        for e in EXCEPTIONS
        if not any(e["check"] == f["check_id"] and re.search(e["resource"], f["resource"]) for f in failed)
    ]
    assert stale == [], f"exceptions that match no finding any more, remove them: {stale}"


def test_the_scan_catches_a_privileged_container(tmp_path: Path) -> None:
    # The scan must be able to fail: a privileged, root container is flagged.
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bad", "namespace": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": True}}]},
            },
        },
    }
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(bad))
    # CKV_K8S_16: Container should not be privileged
    assert "CKV_K8S_16" in {f["check_id"] for f in findings(tmp_path, min_passed=20)}


def test_every_workload_of_more_than_one_replica_has_a_disruption_budget(rendered: Path) -> None:
    """A drain or an upgrade must not take down every replica of a workload at once."""
    documents = [o for f in sorted(rendered.rglob("*.yml")) for o in yaml.safe_load_all(f.read_text())]
    objects = [o for o in documents if isinstance(o, dict) and "kind" in o and "apiVersion" in o]
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    missing = []
    for workload in objects:
        if workload["kind"] not in ("Deployment", "StatefulSet") or workload["spec"].get("replicas", 1) < 2:
            continue
        labels = workload["spec"]["template"]["metadata"]["labels"]
        namespace = workload["metadata"]["namespace"]
        if not any(
            b["metadata"]["namespace"] == namespace
            and all(labels.get(k) == v for k, v in b["spec"]["selector"]["matchLabels"].items())
            for b in budgets
        ):
            missing.append(f"{workload['kind']} {namespace}/{workload['metadata']['name']}")
    assert not missing, f"{rendered.name}: no PodDisruptionBudget for {missing}"

"""Bad input is refused before any change, by the role, naming the variable and the rule.

Each case runs playbooks/render.yml (each role's input checks, no cluster) with
one bad value given as a user would (-e, JSON for structures). Before these
checks, about a third of such inputs reached the cluster: an image reference
with spaces or capitals was applied, a receiver URL that is not a URL or a
Slack webhook over http was applied and Alertmanager restarted with it, a
Prometheus interval it refuses at start was applied, and quantities, hosts,
CIDRs and ports were caught only by the API server, whose message does not
name the variable. Secret values (receivers' URLs) never appear in the message.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
SECRET = "T0KEN-never-shown"  # noqa: S105 (a marker to look for in the output, not a credential)
RESOURCES = {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"cpu": "250m", "memory": "192Mi"}}

BUCKET = {"endpoint": "https://s3.example.com", "bucket": "backups", "egress": ["203.0.113.10/32"]}
# The keys carry the marker: a refused bucket never shows them.
BUCKET_KEYS = {
    "app_deploy_backup_bucket_access_key_id": f"KEYID{SECRET}",
    "app_deploy_backup_bucket_secret_access_key": f"KEY{SECRET}",
}

# (variable, bad value, what the message must say[, other variables the case needs])
CASES: list[tuple] = [
    ("app_deploy_image_reference", "localhost/Shipyard/App:1", "app_deploy_image_reference"),
    ("app_deploy_image_reference", "localhost/shipyard/app: 1", "is not an image reference"),
    ("app_deploy_postgres_image", "Postgres:16", "app_deploy_postgres_image: 'Postgres:16' is not an image reference"),
    (
        "app_deploy_resources",
        {**RESOURCES, "limits": {"cpu": "1 core", "memory": "192Mi"}},
        "app_deploy_resources.limits.cpu: '1 core' is not a Kubernetes quantity",
    ),
    ("app_deploy_backup_schedule", "0 25 * * *", "app_deploy_backup_schedule: '0 25 * * *' is not a cron schedule"),
    ("app_deploy_backup_timezone", "Mars/Olympus", "app_deploy_backup_timezone: 'Mars/Olympus' is not an IANA"),
    ("app_deploy_backup_retention", 0, "app_deploy_backup_retention (0) is at least 1"),
    (
        "app_deploy_postgres_storage_size",
        "10 GB",
        "app_deploy_postgres_storage_size: '10 GB' is not a Kubernetes quantity",
    ),
    (
        "app_deploy_ingress_host",
        "Shop_Front.example",
        "app_deploy_ingress_host: 'Shop_Front.example' is not a DNS name",
        {"app_deploy_ingress_enabled": True},
    ),
    ("app_deploy_namespace", "Shipyard", "app_deploy_namespace is a DNS label"),
    ("app_deploy_service_node_port", 80, "app_deploy_service_node_port (80) is 0, or 30000 to 32767"),
    ("app_deploy_replicas", "three", "app_deploy_replicas"),
    ("logging_profile", "huge", "logging_profile"),
    (
        "logging_resources",
        {"elasticsearch": {"storage": "lots"}},
        "logging_resources.elasticsearch.storage: 'lots' is not a Kubernetes quantity",
    ),
    (
        "monitoring_scrape_interval",
        "30 seconds",
        "monitoring_scrape_interval: '30 seconds' is not a Prometheus duration",
    ),
    ("monitoring_alertmanager_repeat_interval", "4hours", "monitoring_alertmanager_repeat_interval"),
    ("monitoring_resources", {"prometheus": {"retention": "two weeks"}}, "monitoring_resources.prometheus.retention"),
    (
        "monitoring_alertmanager_receivers",
        [{"name": "team", "webhook_configs": [{"url": f"not a url {SECRET}"}]}],
        "monitoring_alertmanager_receivers[0].webhook_configs[0].url: (value not shown) is not an http(s) URL",
    ),
    (
        "monitoring_alertmanager_receivers",
        [{"name": "team", "slack_configs": [{"api_url": f"http://hooks.slack.com/services/{SECRET}"}]}],
        "monitoring_alertmanager_receivers[0].slack_configs[0].api_url: (value not shown) is not an https URL",
    ),
    (
        "monitoring_images",
        {
            "prometheus": {"repository": "quay.io/Prometheus/prometheus", "tag": "v3.5.0"},
            "alertmanager": {"repository": "quay.io/prometheus/alertmanager", "tag": "v0.28.1"},
            "grafana": {"repository": "docker.io/grafana/grafana", "tag": "12.1.1"},
            "kube_state_metrics": {
                "repository": "registry.k8s.io/kube-state-metrics/kube-state-metrics",
                "tag": "v2.16.0",
            },
        },
        "monitoring_images.prometheus: 'quay.io/Prometheus/prometheus:v3.5.0' is not an image reference",
    ),
    (
        "shipyard_backup_bucket",
        {"endpoint": "https://s3.example.com", "bucket": "backups"},
        "shipyard_backup_bucket names a bucket but no egress",
        BUCKET_KEYS,
    ),
    (
        "shipyard_backup_bucket",
        {**BUCKET, "bucket": "Backups_2026", "endpoint": "https://s3.example.com/backups"},
        "app_deploy_backup_bucket names the S3-compatible bucket the backups go to",
        BUCKET_KEYS,
    ),
    ("shipyard_backup_bucket", BUCKET, "app_deploy_backup_bucket_secret_access_key are set", {}),
    (
        "shipyard_backup_bucket",
        {**BUCKET, "egress": ["300.0.0.0/8"]},
        "is not a CIDR",
        BUCKET_KEYS,
    ),
    ("hardening_app_client_cidrs", ["172.16.0.0/33"], "hardening_app_client_cidrs[0]: '172.16.0.0/33' is not a CIDR"),
    ("hardening_app_client_cidrs", ["10.0.0.1/8"], "with no host bits set"),
    ("hardening_apiserver_ports", [443, 70000], "hardening_apiserver_ports[1]: 70000 is not a port number"),
    (
        "hardening_quotas",
        {"app": {"requests.cpu": "four"}, "monitoring": {}, "logging": {}, "logging_agent": {}},
        "hardening_quotas.app.requests.cpu: 'four' is not a Kubernetes quantity",
    ),
]


def render(case: tuple, out: Path) -> subprocess.CompletedProcess:
    variable, value, _, *extra = case
    return subprocess.run(
        ["ansible-playbook", "-i", "inventories/sandbox", "playbooks/render.yml",
         "-e", f"shipyard_render_dir={out}", "-e", json.dumps({variable: value, **(extra[0] if extra else {})})],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[subprocess.CompletedProcess, Path]]:
    """Every case at once, four at a time: each run and the folder it rendered to."""
    # The folders first, in this thread: the factory creates its base folder on
    # first use, and threads racing to do so each made one (ValueError).
    outs = [tmp_path_factory.mktemp("bad") for _ in CASES]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(zip(pool.map(render, CASES, outs), outs, strict=True))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_refused_naming_the_variable(
    runs: list[tuple[subprocess.CompletedProcess, Path]], index: int
) -> None:
    variable, _, expected, *_ = CASES[index]
    run, _ = runs[index]
    out = " ".join(run.stdout.split())
    assert run.returncode != 0, f"{variable} was accepted:\n{run.stdout[-1500:]}"
    assert expected in out, f"the refusal of {variable} does not say '{expected}':\n{run.stdout[-2500:]}"
    assert SECRET not in run.stdout + run.stderr, "a secret value appears in the output"


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_refused_render_writes_no_file(runs: list[tuple[subprocess.CompletedProcess, Path]], index: int) -> None:
    # Every role's inputs are checked before the first role renders (playbooks/inputs.yml).
    _, out = runs[index]
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert not written, f"{CASES[index][0]} was refused after these were written: {written[:10]}"

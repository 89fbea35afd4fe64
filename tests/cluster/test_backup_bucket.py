"""Backups to an S3-compatible bucket and restore from it, as real containers on the local cluster's node.

The bucket is a real S3 server: versitygw (an S3 gateway over a folder, built
from the Go module proxy), run by this module as a pod in a namespace of its
own on the real node, with keys made up for the run. The site is converged
with `shipyard_backup_bucket` naming it and the keys in the environment, as a
user would hand them over; the backup pods' rclone container talks S3 (signed
requests) to it through the hardening's NetworkPolicies. At the end the site
goes back to the backup volume, which is also tested.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from backupsite import has_item, new_item, psql
from realpods import APP_NAMESPACE, Probes, ansible_playbook, kubectl, kubectl_json, ready, wait_for

S3_NAMESPACE = "shipyard-s3-test"
S3_IMAGE = "docker.io/versity/versitygw:v1.8.0"
BUCKET, PREFIX = "backups", "shipyard"
ENDPOINT = f"http://versitygw.{S3_NAMESPACE}.svc.cluster.local:7070"
BUCKET_KEYS_OBJECT = "shipyard-app-backup-bucket"
UPLOADED = re.compile(
    r"Wrote (app-\d{8}T\d{6}Z\.dump) \((\d+) bytes\) to bucket backups/shipyard at \S+;\s+(\d+) archive\(s\) kept"
)


def s3_manifest(access_key: str, secret_key: str) -> list[dict]:
    labels = {"app.kubernetes.io/name": "versitygw"}
    restricted = {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "runAsUser": 65534, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": S3_NAMESPACE}},
        {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "root-keys", "namespace": S3_NAMESPACE},
            "stringData": {"ROOT_ACCESS_KEY_ID": access_key, "ROOT_SECRET_ACCESS_KEY": secret_key},
        },
        {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "versitygw", "namespace": S3_NAMESPACE, "labels": labels},
            "spec": {
                "automountServiceAccountToken": False, "enableServiceLinks": False, "terminationGracePeriodSeconds": 0,
                "containers": [{
                    "name": "versitygw", "image": S3_IMAGE, "imagePullPolicy": "IfNotPresent",
                    # Each folder at the top is a bucket: the bucket exists before the backups start.
                    "command": ["/bin/sh", "-c", f"mkdir -p /data/{BUCKET} && exec versitygw --quiet posix /data"],
                    "envFrom": [{"secretRef": {"name": "root-keys"}}],
                    "ports": [{"name": "s3", "containerPort": 7070}],
                    "readinessProbe": {"tcpSocket": {"port": 7070}, "periodSeconds": 2},
                    "securityContext": restricted,
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
                }],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
        },
        {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "versitygw", "namespace": S3_NAMESPACE},
            "spec": {"selector": labels, "ports": [{"name": "s3", "port": 7070, "targetPort": "s3"}]},
        },
    ]  # fmt: skip


def bucket_archives() -> dict[str, int]:
    """The archives in the bucket, as the S3 server stores them: name -> bytes."""
    out = kubectl(
        "-n", S3_NAMESPACE, "exec", "versitygw", "--", "find", f"/data/{BUCKET}/{PREFIX}", "-maxdepth", "1",
        "-name", "*.dump", "-printf", "%f %s\\n", check=False,
    ).stdout  # fmt: skip
    return {name: int(size) for name, size in (line.split() for line in out.splitlines() if line.strip())}


class Site:
    """The site converged with the bucket, the keys in the environment."""

    def __init__(self, keys: dict[str, str], extra_vars: Path) -> None:
        self.keys, self.extra_vars = keys, extra_vars

    def run(self, playbook: str, *args: str) -> str:
        run = ansible_playbook(playbook, "-e", f"@{self.extra_vars}", *args, env=self.keys)
        for value in self.keys.values():
            assert value not in run.stdout, f"{playbook} printed a bucket key"
        assert run.returncode == 0, run.stdout[-3000:]
        return run.stdout

    def backup(self, *args: str) -> tuple[str, int, int]:
        out = self.run("playbooks/backup.yml", *args)
        found = UPLOADED.search(out)
        assert found, out[-2000:]
        return found[1], int(found[2]), int(found[3])


@pytest.fixture(scope="module")
def site(cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    access_key, secret_key = f"shipyard{secrets.token_hex(6)}", secrets.token_urlsafe(30)
    # A server of an earlier run would hold that run's keys.
    kubectl("delete", "namespace", S3_NAMESPACE, "--ignore-not-found", "--wait=true", timeout=180)
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": s3_manifest(access_key, secret_key)}),
    )
    kubectl("-n", S3_NAMESPACE, "wait", "pod/versitygw", "--for=condition=Ready", "--timeout=120s", timeout=140)
    extra_vars = tmp_path_factory.mktemp("bucket") / "bucket.json"
    extra_vars.write_text(json.dumps({
        "shipyard_backup_bucket": {
            "endpoint": ENDPOINT, "bucket": BUCKET, "prefix": PREFIX,
            "egress": [{"namespace": S3_NAMESPACE, "pods": {"app.kubernetes.io/name": "versitygw"}}],
        },
        # As an inventory would: from the environment (or vault).
        "app_deploy_backup_bucket_access_key_id": "{{ lookup('ansible.builtin.env', 'SHIPYARD_BUCKET_KEY_ID') }}",
        "app_deploy_backup_bucket_secret_access_key": "{{ lookup('ansible.builtin.env', 'SHIPYARD_BUCKET_SECRET') }}",
    }))  # fmt: skip
    converged = Site({"SHIPYARD_BUCKET_KEY_ID": access_key, "SHIPYARD_BUCKET_SECRET": secret_key}, extra_vars)
    converged.run("playbooks/site.yml", "-v")
    try:
        yield converged
    finally:
        # Back to the backup volume (the default inventory's): the plays of the app and its policies.
        back = ansible_playbook("playbooks/site.yml", "--tags", "app,security")
        kubectl("delete", "namespace", S3_NAMESPACE, "--wait=false", check=False)
        assert back.returncode == 0, back.stdout[-3000:]
        assert kubectl("-n", APP_NAMESPACE, "get", "secret", BUCKET_KEYS_OBJECT, check=False).returncode != 0, (
            "the bucket's keys stayed after the site went back to the volume"
        )
        job = kubectl_json("-n", APP_NAMESPACE, "get", "cronjob", "shipyard-app-backup")["spec"]["jobTemplate"]
        assert "initContainers" not in job["spec"]["template"]["spec"], "the CronJob still uploads to the bucket"


def test_the_keys_live_in_their_own_secret_and_nowhere_else(site: Site) -> None:
    secret = kubectl_json("-n", APP_NAMESPACE, "get", "secret", BUCKET_KEYS_OBJECT)
    stored = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert stored == {
        "AWS_ACCESS_KEY_ID": site.keys["SHIPYARD_BUCKET_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": site.keys["SHIPYARD_BUCKET_SECRET"],
    }
    elsewhere = json.dumps([
        kubectl_json("-n", APP_NAMESPACE, "get", "cronjob,configmap,deployment,statefulset"),
        kubectl_json("-n", APP_NAMESPACE, "get", "secret", "shipyard-app-secrets"),
    ])  # fmt: skip
    assert site.keys["SHIPYARD_BUCKET_SECRET"] not in elsewhere


def test_a_second_converge_with_the_bucket_changes_nothing(site: Site) -> None:
    out = site.run("playbooks/site.yml")
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0\s", out), out[-2500:]


def test_a_backup_lands_in_the_bucket_and_retention_counts_there(site: Site) -> None:
    runs = [site.backup("-e", "app_deploy_backup_retention=2") for _ in range(3)]
    stored = bucket_archives()
    assert sorted(stored) == sorted(name for name, _, _ in runs[1:]), f"the bucket holds {sorted(stored)}"
    name, size, kept = runs[-1]
    assert stored[name] == size > 0 and kept == 2


def test_a_dropped_database_comes_back_from_the_bucket(site: Site, app_url: str, api_token: str) -> None:
    kept_id, kept = new_item(app_url, api_token, "bucket-kept")
    archive, _, _ = site.backup()
    later_id, later = new_item(app_url, api_token, "bucket-later")

    psql("DROP DATABASE app WITH (FORCE)", database="postgres")
    wait_for("the app to report the lost database", lambda: not ready(app_url), timeout=30)

    out = site.run("playbooks/restore.yml", "-e", "shipyard_restore_confirm=yes")
    assert f"Restored {archive} from bucket backups/shipyard" in out and "created anew" in out, out[-1500:]
    assert ready(app_url)
    assert has_item(app_url, kept_id, kept), "the backed-up item is missing after the restore from the bucket"
    assert not has_item(app_url, later_id, later), "an item written after the backup survived its restore"


def test_an_archive_not_in_the_bucket_is_refused_naming_those_there(site: Site, app_url: str) -> None:
    run = ansible_playbook(
        "playbooks/restore.yml", "-e", f"@{site.extra_vars}", "-e", "shipyard_restore_confirm=yes",
        "-e", "app_deploy_restore_archive=app-20000101T000000Z.dump", env=site.keys,
    )  # fmt: skip
    assert run.returncode != 0
    assert "app-20000101T000000Z.dump not found in backups/shipyard; available: app-" in run.stdout, run.stdout[-1500:]
    kubectl("-n", APP_NAMESPACE, "rollout", "status", "deployment/shipyard-app", "--timeout=120s", timeout=140)
    wait_for("the app to be ready again", lambda: ready(app_url), timeout=60)


def test_a_wrong_key_fails_the_backup_with_the_buckets_answer(site: Site) -> None:
    patch = {"stringData": {"AWS_SECRET_ACCESS_KEY": "not-the-key"}}
    kubectl("-n", APP_NAMESPACE, "patch", "secret", BUCKET_KEYS_OBJECT, "-p", json.dumps(patch))
    try:
        before = bucket_archives()
        run = ansible_playbook("playbooks/backup.yml", "-e", f"@{site.extra_vars}", env=site.keys)
        assert run.returncode != 0
        # The bucket refuses the signature: 403 Forbidden, named in the failure with the upload it stopped.
        assert re.search(
            r"Backup Job .* failed: .*upload of app-\S+ to backups/shipyard .*Forbidden.*403", run.stdout, re.S
        ), run.stdout[-2000:]
        assert bucket_archives() == before
    finally:
        patch = {"stringData": {"AWS_SECRET_ACCESS_KEY": site.keys["SHIPYARD_BUCKET_SECRET"]}}
        kubectl("-n", APP_NAMESPACE, "patch", "secret", BUCKET_KEYS_OBJECT, "-p", json.dumps(patch))


def test_only_the_backup_pods_reach_the_bucket(site: Site, probes: Probes) -> None:
    """The flow the site opened for the bucket, and only it: a pod with the backup pods' labels reaches the S3
    server; one with the app's labels, in the same namespace, does not."""
    backup = probes.start(APP_NAMESPACE, {"app.kubernetes.io/name": "postgresql-backup",
                                          "app.kubernetes.io/instance": "shipyard-app"})  # fmt: skip
    app = probes.start(APP_NAMESPACE, {"app.kubernetes.io/name": "shipyard-app",
                                       "app.kubernetes.io/instance": "shipyard-app"})  # fmt: skip
    probes.wait_ready()
    s3 = kubectl_json("-n", S3_NAMESPACE, "get", "pod", "versitygw")["status"]["podIP"]
    assert probes.connects(APP_NAMESPACE, backup, s3, 7070), "the backup pods cannot reach the bucket"
    assert not probes.connects(APP_NAMESPACE, app, s3, 7070), "the app reaches the backup bucket"

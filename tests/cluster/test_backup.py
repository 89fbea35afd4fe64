"""Backups and restore of the app's PostgreSQL, as real containers on the local cluster's node.

The backup and restore pods run the PostgreSQL image's pg_dump and pg_restore
against the real database, through the hardening's NetworkPolicies (enforced
by kube-router here), in the restricted namespace.
"""

from __future__ import annotations

import re
import subprocess
import uuid

from backupsite import has_item, new_item, psql
from realpods import APP_NAMESPACE, ansible_playbook, kubectl, kubectl_json, ready, wait_for

ARCHIVE = re.compile(r"Wrote (app-\d{8}T\d{6}Z\.dump) \((\d+) bytes\).*?(\d+) archive\(s\) kept", re.S)


def backup(*extra: str) -> tuple[str, int]:
    """Run playbooks/backup.yml; return the archive's name and how many archives are kept."""
    run = ansible_playbook("playbooks/backup.yml", *extra)
    assert run.returncode == 0, run.stdout[-3000:]
    found = ARCHIVE.search(run.stdout)
    assert found, run.stdout[-2000:]
    assert int(found[2]) > 0
    return found[1], int(found[3])


def restore(archive: str = "") -> subprocess.CompletedProcess:
    """Run playbooks/restore.yml, confirmed, of the newest archive or the one named."""
    extra = ["-e", f"app_deploy_restore_archive={archive}"] if archive else []
    return ansible_playbook("playbooks/restore.yml", "-e", "shipyard_restore_confirm=yes", *extra)


def test_a_dropped_database_comes_back_from_the_newest_backup(app_url: str, api_token: str) -> None:
    kept_id, kept = new_item(app_url, api_token, "kept")
    archive, _ = backup()
    later_id, later = new_item(app_url, api_token, "later")

    psql("DROP DATABASE app WITH (FORCE)", database="postgres")
    wait_for("the app to report the lost database", lambda: not ready(app_url), timeout=30)

    run = restore()
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"Restored {archive}" in run.stdout and "created anew" in run.stdout, run.stdout[-1500:]
    # The restore waits for the app: it is ready when the playbook ends.
    assert ready(app_url)
    assert has_item(app_url, kept_id, kept), "the backed-up item is missing after the restore"
    assert not has_item(app_url, later_id, later), "an item written after the backup survived a restore of that backup"


def test_a_named_older_archive_is_restored_over_live_data(app_url: str, api_token: str) -> None:
    first_id, first = new_item(app_url, api_token, "first")
    older, _ = backup()
    second_id, second = new_item(app_url, api_token, "second")
    newer, _ = backup()
    assert newer > older

    run = restore(older)
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"Restored {older}" in run.stdout and "created anew" not in run.stdout, run.stdout[-1500:]
    assert has_item(app_url, first_id, first), "the item of the older archive is missing"
    assert not has_item(app_url, second_id, second), "an item newer than the restored archive survived"


def test_a_restore_without_confirmation_changes_nothing(app_url: str) -> None:
    before = kubectl_json("-n", APP_NAMESPACE, "get", "deployment", "shipyard-app")["metadata"]["generation"]
    run = ansible_playbook("playbooks/restore.yml")
    assert run.returncode != 0
    assert "Confirm with -e shipyard_restore_confirm=yes" in run.stdout, run.stdout[-1500:]
    after = kubectl_json("-n", APP_NAMESPACE, "get", "deployment", "shipyard-app")["metadata"]["generation"]
    assert before == after


def test_retention_keeps_the_newest_and_a_missing_archive_is_refused_with_the_app_left_running(
    app_url: str, api_token: str
) -> None:
    marker_id, marker = new_item(app_url, api_token, "untouched")
    runs = [backup("-e", "app_deploy_backup_retention=2") for _ in range(3)]
    assert runs[-1][1] == 2, f"{runs[-1][1]} archives kept with app_deploy_backup_retention=2"
    # The oldest was pruned: restoring it fails, naming the archives that are there.
    run = restore(runs[0][0])
    assert run.returncode != 0 and f"{runs[0][0]} not found" in run.stdout, run.stdout[-1500:]
    assert runs[1][0] in run.stdout and runs[2][0] in run.stdout, "the newest archives are not the ones kept"
    deployment = kubectl_json("-n", APP_NAMESPACE, "get", "deployment", "shipyard-app")
    assert deployment["spec"]["replicas"] >= 1, "the failed restore left the app scaled to zero"
    kubectl("-n", APP_NAMESPACE, "rollout", "status", "deployment/shipyard-app", "--timeout=120s", timeout=140)
    wait_for("the app to be ready again", lambda: ready(app_url), timeout=60)
    assert has_item(app_url, marker_id, marker), "a failed restore changed the data"


def test_the_scheduled_job_template_backs_up_as_a_real_pod() -> None:
    job = f"scheduled-{uuid.uuid4().hex[:6]}"
    kubectl("-n", APP_NAMESPACE, "create", "job", job, "--from=cronjob/shipyard-app-backup")
    try:
        kubectl("-n", APP_NAMESPACE, "wait", f"job/{job}", "--for=condition=Complete", "--timeout=120s", timeout=140)
        log = kubectl("-n", APP_NAMESPACE, "logs", f"job/{job}").stdout
        assert '"message": "backup written"' in log, log
    finally:
        kubectl("-n", APP_NAMESPACE, "delete", "job", job, "--wait=false", check=False)

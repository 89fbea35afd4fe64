"""An existing single-tenant site upgrades in place: the site of the previous version (the last
commit before tenants, checked out as a git worktree with its own `make setup` while the session's
first tests run: conftest.py) converges the local cluster, an item is written, then this version
converges over it. Every object keeps its name and uid, PostgreSQL keeps its claim and volume, and
the item is still there.
Real pods: the app and PostgreSQL of both versions run on the real node."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from realpods import (
    ANSIBLE_ENV,
    APP_NAMESPACE,
    KUBECONFIG,
    STATE,
    ansible_playbook,
    app_objects,
    http,
    kubectl_json,
    ready,
)

# Added since (the previous version has everything else under the same name).
ADDED = "Service/shipyard-app-postgresql-rw"


def test_this_version_converges_over_the_previous_keeping_names_volume_and_data(
    previous: Path, app_url: str, api_token: str
) -> None:
    # The previous version has no private_tmp callback: under Mitogen its run leaves the kubeconfig's
    # client key in its temp folder, so that folder is the test's own and goes with the run.
    tmp = tempfile.mkdtemp(prefix="sy-")  # short: Mitogen's socket path must fit
    env = {**ANSIBLE_ENV, "ANSIBLE_CONFIG": str(previous / "ansible.cfg"), "TMPDIR": tmp,
           "PATH": f"{previous / '.venv/bin'}:{STATE / 'bin'}:{os.environ['PATH']}"}  # fmt: skip
    try:
        old = subprocess.run(
            ["ansible-playbook", "-i", "inventories/sandbox", "playbooks/site.yml",
             "-e", f"shipyard_kubeconfig={KUBECONFIG}"],
            cwd=previous, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
            check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert old.returncode == 0, old.stdout[-3000:]
    assert ready(app_url)
    status, item = http("POST", f"{app_url}/api/items", {"name": f"before-upgrade-{uuid.uuid4().hex[:8]}"}, api_token)
    assert status == 201, item
    before = app_objects()
    claim = kubectl_json("-n", APP_NAMESPACE, "get", "pvc", "data-shipyard-app-postgresql-0")
    assert "StatefulSet/shipyard-app-postgresql" in before and "Deployment/shipyard-app" in before

    new = ansible_playbook("playbooks/site.yml", timeout=900)
    assert new.returncode == 0, new.stdout[-3000:]
    after = app_objects()
    # Same names, and the same objects (uids): nothing was deleted and created again. The one
    # object added since: the database's ClusterIP Service, which the app's DATABASE_URL now names.
    # (It is there before already when this version converged the cluster first, as `make test` does.)
    assert sorted(after) == sorted({*before, ADDED})
    assert {k: v for k, v in after.items() if k in before and before[k] != v} == {}
    url = kubectl_json("-n", APP_NAMESPACE, "get", "secret", "shipyard-app-secrets")["data"]["DATABASE_URL"]
    assert "@shipyard-app-postgresql-rw.shipyard.svc:5432/" in base64.b64decode(url).decode()
    now = kubectl_json("-n", APP_NAMESPACE, "get", "pvc", "data-shipyard-app-postgresql-0")
    assert now["metadata"]["uid"] == claim["metadata"]["uid"]
    assert now["spec"]["volumeName"] == claim["spec"]["volumeName"]
    assert ready(app_url)
    status, again = http("GET", f"{app_url}/api/items/{item['id']}", token=api_token)
    assert (status, again.get("name")) == (200, item["name"])

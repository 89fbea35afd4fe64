"""Fault: the node container restarts (machine reboot, `docker restart`). The
cluster comes back from its own data: etcd, the PKI, the images and the
volumes are kept; the site answers again with the data it had.

Named to run last in this folder (test_z_...): it takes the whole cluster down for a while."""

from __future__ import annotations

import subprocess
import time
import uuid

from realpods import NODE_CONTAINER, ROOT, http, kubectl, ready


def test_the_cluster_and_the_site_come_back_after_a_node_restart(app_url: str, api_token: str) -> None:
    name = f"before-restart-{uuid.uuid4().hex[:8]}"
    status, created = http("POST", f"{app_url}/api/items", {"name": name, "quantity": 3}, api_token)
    assert status == 201, created
    secrets_before = kubectl("-n", "shipyard", "get", "secret", "shipyard-app-secrets", "-o", "jsonpath={.data}").stdout

    start = time.monotonic()
    subprocess.run(["docker", "restart", "-t", "30", NODE_CONTAINER], check=True, capture_output=True)
    up = subprocess.run(["hack/cluster/up.sh"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert up.returncode == 0, up.stderr[-2000:]
    assert "creating" not in up.stderr, "the cluster was created anew instead of restarted"
    kubectl("-n", "shipyard", "rollout", "status", "statefulset/shipyard-app-postgresql", "--timeout=240s", timeout=260)
    kubectl("-n", "shipyard", "rollout", "status", "deployment/shipyard-app", "--timeout=240s", timeout=260)
    deadline = time.monotonic() + 180
    while not ready(app_url):
        assert time.monotonic() < deadline, "the app did not answer /ready within 180 s of the restart"
        time.sleep(1)
    print(f"the site answered again {time.monotonic() - start:.0f} s after the restart began")

    status, item = http("GET", f"{app_url}/api/items/{created['id']}")
    assert status == 200, item
    assert item["name"] == name
    secrets_after = kubectl("-n", "shipyard", "get", "secret", "shipyard-app-secrets", "-o", "jsonpath={.data}").stdout
    assert secrets_after == secrets_before

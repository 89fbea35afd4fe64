"""Helpers for the tests of inventories/tenants on the local cluster (tests/tenants)."""

from __future__ import annotations

import json
import re
import subprocess

from realpods import ANSIBLE_ENV, ROOT, TARGET, kubectl_json

TENANTS = ["tenant-a", "tenant-b"]
INVENTORY = "inventories/tenants"
RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=\d+\s+failed=(?P<failed>\d+)")


def site(inventory: str, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ansible-playbook", "-i", inventory, "playbooks/site.yml", *TARGET, *args],
        cwd=ROOT, env=ANSIBLE_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def recap(output: str) -> dict[str, tuple[int, int]]:
    """host -> (changed, failed) from PLAY RECAP."""
    return {m["host"]: (int(m["changed"]), int(m["failed"])) for m in map(RECAP.match, output.splitlines()) if m}


def _untouched(o: dict) -> str:
    """What tells that an object was not touched: its resourceVersion; a pod's uid (not replaced);
    the autoscaler's spec and labels (its controller rewrites its status on its own)."""
    if o["kind"] == "Pod":
        return o["metadata"]["uid"]
    if o["kind"] == "HorizontalPodAutoscaler":
        return json.dumps([o["spec"], o["metadata"].get("labels"), o["metadata"].get("annotations")], sort_keys=True)
    return o["metadata"]["resourceVersion"]


def state_of(namespace: str) -> dict[str, str]:
    """kind/name -> what tells that it was not touched, for everything app_deploy manages in a namespace."""
    objects = kubectl_json("-n", namespace, "get", "deployments,statefulsets,services,configmaps,secrets,cronjobs,"
                           "horizontalpodautoscalers,poddisruptionbudgets,persistentvolumeclaims,pods")  # fmt: skip
    return {
        f"{o['kind']}/{o['metadata']['name']}": _untouched(o)
        for o in objects["items"]
        if "shipyard.dev/test-probe" not in o["metadata"].get("labels", {})
    }

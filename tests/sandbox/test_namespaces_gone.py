"""common's namespaces_gone: the wait the site's teardown makes once for every stack's deleted namespaces.

A namespace held by a finalizer is named with the namespace controller's reason
when the time is up, a namespace that went is not; once the finalizer is gone
the same wait passes. The sandbox is simulated (kwok), but namespace deletion is
the real control plane's: the namespace controller empties and removes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
HOLD = "shipyard.test/hold"


@pytest.fixture
def doomed(api: client.ApiClient) -> Iterator[tuple[str, str]]:
    """Two namespaces being deleted: one empties at once, one is held by a ConfigMap's finalizer."""
    core = client.CoreV1Api(api)
    suffix = uuid.uuid4().hex[:6]
    free, held = f"gone-free-{suffix}", f"gone-held-{suffix}"
    for name in (free, held):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(
        held, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="held", finalizers=[HOLD]))
    )
    for name in (free, held):
        core.delete_namespace(name)
    yield free, held
    release(core, held)


def release(core: client.CoreV1Api, namespace: str) -> None:
    try:
        core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": None}})
    except client.ApiException as err:
        if err.status != 404:
            raise


def wait(sandbox: Path, tmp_path: Path, namespaces: list[str], timeout: int) -> subprocess.CompletedProcess:
    kubeconfig = sandbox / "kubeconfig"
    playbook = tmp_path / "gone.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n"
        f"  module_defaults:\n    group/kubernetes.core.k8s: {{kubeconfig: '{kubeconfig}'}}\n"
        "  tasks:\n    - ansible.builtin.include_role:\n        name: shipyard.platform.common\n"
        "        tasks_from: namespaces_gone\n"
        f"      vars: {{common_gone_namespaces: {namespaces}, common_gone_timeout: {timeout}}}\n"
    )
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
         str(playbook)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_a_namespace_held_by_a_finalizer_is_named_with_the_reason(
    sandbox: Path, api: client.ApiClient, doomed: tuple[str, str], tmp_path: Path
) -> None:
    free, held = doomed
    run = wait(sandbox, tmp_path, [free, held], timeout=5)
    out = " ".join(run.stdout.split())
    assert run.returncode != 0, run.stdout[-3000:]
    assert f"Not gone 5 s after their deletion: {held} (Terminating" in out, run.stdout[-3000:]
    assert HOLD in out  # the namespace controller's reason: the finalizer left
    assert f"{free} (" not in out

    release(client.CoreV1Api(api), held)
    run = wait(sandbox, tmp_path, [free, held], timeout=60)
    assert run.returncode == 0, run.stdout[-3000:]
    names = [ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items]
    assert free not in names and held not in names

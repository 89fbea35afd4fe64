"""The hardening role fails closed when the API server's addresses cannot be discovered.

A cluster whose API server publishes no endpoints (kube-apiserver
--endpoint-reconciler-type=none: the kubernetes EndpointSlice stays empty)
would have the role write the monitoring egress rule with `to: []`, which
allows every destination on the API ports. The run must stop before any change.
This sandbox is simulated (kwok): the test proves what the role applies, not
that traffic flows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAME = "nodisco"
DIR = ROOT / ".cache" / "sim-nodisco"
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}


@pytest.fixture(scope="module")
def kubeconfig() -> Iterator[Path]:
    subprocess.run(
        ["hack/sandbox/up.sh", "--name", NAME, "--port", "0", "--dir", str(DIR),
         "--apiserver-arg", "endpoint-reconciler-type=none"],
        cwd=ROOT, check=True,
    )  # fmt: skip
    yield DIR / "kubeconfig"
    subprocess.run(["hack/sandbox/down.sh", "--name", NAME, "--dir", str(DIR)], cwd=ROOT, check=True)


def kubectl(kubeconfig: Path, *args: str) -> str:
    kubectl_bin = subprocess.run(
        ["bash", "-c", ". hack/sandbox/lib.sh; echo $SANDBOX_BIN_DIR"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    return subprocess.run(
        [f"{kubectl_bin}/kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, check=True
    ).stdout


def test_empty_discovery_stops_the_run_before_any_policy_is_written(kubeconfig: Path, tmp_path: Path) -> None:
    published = kubectl(
        kubeconfig, "-n", "default", "get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes",
        "-o", "jsonpath={.items[*].endpoints}",
    )  # fmt: skip
    assert published.strip() == "", f"the API server published endpoints: {published}"
    kubectl(kubeconfig, "create", "namespace", "shipyard")
    kubectl(kubeconfig, "label", "namespace", "shipyard", "pod-security.kubernetes.io/enforce=restricted")
    playbook = tmp_path / "harden.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n"
        f"  module_defaults:\n    group/kubernetes.core.k8s: {{kubeconfig: '{kubeconfig}'}}\n"
        f"    kubernetes.core.k8s_cluster_info: {{kubeconfig: '{kubeconfig}'}}\n"
        "  roles:\n    - role: hardening\n"
        "      vars: {hardening_monitoring_enabled: false, hardening_logging_enabled: false}\n"
    )
    run = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
         str(playbook)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    out = " ".join(run.stdout.split())
    assert run.returncode != 0, run.stdout[-3000:]
    assert "The API server's addresses could not be discovered" in out, run.stdout[-3000:]
    assert "hardening_apiserver_cidrs" in out
    assert kubectl(kubeconfig, "get", "networkpolicies", "-A", "-o", "name").strip() == "", "policies were written"

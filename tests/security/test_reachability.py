"""Reachability over the rendered NetworkPolicies, computed by cyclonus (a
NetworkPolicy analysis engine built from the Go module proxy): every flow the
architecture needs is allowed, and everything else tried here is denied."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from netpol_flows import ALLOWED, DENIED, Flow, Peer, tenant_flows

ROOT = Path(__file__).resolve().parents[2]
APISERVER = "192.0.2.1"  # the render's placeholder address of the API server
INTERNET = "93.184.216.34"
HOST = "172.17.0.1"  # Docker's bridge gateway, where the local cluster's published ports come from


_ips = iter(range(10, 250))
_addresses: dict[Peer, dict] = {}


def endpoint(peer: Peer) -> dict:
    """A peer in cyclonus's traffic format; each pod gets a pod-network address of its own."""
    if peer.kind == "apiserver":
        return {"IP": APISERVER}
    if peer.kind == "outside":
        return {"IP": INTERNET}
    if peer.kind == "host":
        return {"IP": HOST}
    if peer not in _addresses:
        _addresses[peer] = {
            "Internal": {"PodLabels": peer.labels, "Namespace": peer.namespace,
                         "NamespaceLabels": {"kubernetes.io/metadata.name": peer.namespace}},
            "IP": f"10.244.0.{next(_ips)}",
        }  # fmt: skip
    return _addresses[peer]


def rendered_policies(inventory: str, count: int, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inventory's NetworkPolicies as make render writes them, one object per file (for cyclonus)."""
    out = tmp_path_factory.mktemp(f"render-{inventory}")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    run = subprocess.run(
        ["ansible-playbook", "-i", f"inventories/{inventory}", "playbooks/render.yml",
         "-e", f"shipyard_render_dir={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    policies = [d for d in yaml.safe_load_all((out / "hardening/networkpolicies.yml").read_text()) if d]
    assert len(policies) == count
    target = tmp_path_factory.mktemp(f"policies-{inventory}")
    for doc in policies:
        (target / f"{doc['metadata']['namespace']}.{doc['metadata']['name']}.yml").write_text(yaml.safe_dump(doc))
    return target


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered_policies("sandbox", 21, tmp_path_factory)


@pytest.fixture(scope="module")
def tenants_policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Two tenants: their namespaces' default deny, DNS and four workload policies each, beside the shared stacks'.
    return rendered_policies("tenants", 27, tmp_path_factory)


def verdicts(policy_dir: Path, flows: dict[str, Flow], tmp_path: Path) -> dict[str, bool]:
    traffic = [{"Source": endpoint(f.source), "Destination": endpoint(f.destination), "ResolvedPort": f.port,
                "ResolvedPortName": f.port_name, "Protocol": f.protocol}
               for f in flows.values()]  # fmt: skip
    (tmp_path / "traffic.json").write_text(json.dumps(traffic))
    cyclonus = subprocess.run(
        [str(ROOT / "hack/tools/build.sh"), "cyclonus"], capture_output=True, text=True, check=True
    ).stdout.strip()
    run = subprocess.run(
        [f"{cyclonus}/cyclonus", "analyze", "--mode", "query-traffic", "--policy-path", str(policy_dir),
         "--traffic-path", str(tmp_path / "traffic.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    answers = re.findall(r"IS ALLOWED\? \|\s+(TRUE|FALSE)", run.stdout)
    assert len(answers) == len(flows), run.stdout[-3000:]
    return dict(zip(flows, (a == "TRUE" for a in answers), strict=True))


def test_every_needed_flow_is_allowed(policy_dir: Path, tmp_path: Path) -> None:
    result = verdicts(policy_dir, ALLOWED, tmp_path)
    assert [flow for flow, allowed in result.items() if not allowed] == []
    print(f"{len(ALLOWED)} flows allowed")


def test_every_other_flow_tried_is_denied(policy_dir: Path, tmp_path: Path) -> None:
    result = verdicts(policy_dir, DENIED, tmp_path)
    assert [flow for flow, allowed in result.items() if allowed] == []
    print(f"{len(DENIED)} flows denied")


def test_tenants_reach_their_own_workloads_and_nothing_of_each_other(tenants_policy_dir: Path, tmp_path: Path) -> None:
    # inventories/tenants: every ordered pair of tenants, every workload of one to every port of the other's.
    allowed, denied = tenant_flows(["tenant-a", "tenant-b"])
    result = verdicts(tenants_policy_dir, {**allowed, **denied}, tmp_path)
    assert [flow for flow in allowed if not result[flow]] == []
    assert [flow for flow in denied if result[flow]] == []
    assert len(denied) == 24
    print(f"tenants: {len(allowed)} flows allowed, {len(denied)} denied")


def test_without_the_policies_everything_flows(tmp_path: Path) -> None:
    # The analysis must be able to fail: with no policy at all, the denied flows go through.
    empty = tmp_path / "none"
    empty.mkdir()
    (empty / "unrelated.yml").write_text(yaml.safe_dump({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "unrelated", "namespace": "elsewhere"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}))  # fmt: skip
    result = verdicts(empty, DENIED, tmp_path)
    assert all(result.values())

"""The hardening role's NetworkPolicies, enforced for real by kube-router on the
local cluster's node: every allowed flow between pods connects from a real pod,
every denied one fails, and the denied ones connect once the policies are gone
(the control), until the security play puts them back.

Sources are probe pods that carry a workload's labels in its namespace.
Destinations are the real pods where the workload runs on the real node (the
app, PostgreSQL, Prometheus, Alertmanager, CoreDNS, the API server), and
otherwise probe pods with the workload's labels that listen on its port.
"Outside" is a listener this test starts in a container of its own on this
machine, never an address elsewhere. UDP flows other than DNS are left to the
analysis (tests/security), since nothing here answers them; so are the flows
from the host, which tests/cluster/test_app.py tries from the host itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from netpol_flows import ALLOWED, DENIED, Flow, Peer
from realpods import PROBE_IMAGE, ROOT, Probes, kubectl, kubectl_json

MANAGED = ["shipyard", "shipyard-monitoring", "shipyard-logging", "shipyard-logging-agent"]
EXTRA_NAMESPACES = ["ingress-nginx", "default", "kube-system"]


def real_pod_ip(peer: Peer) -> str | None:
    """The address of a running pod of this workload on the real node, if there is one."""
    selector = ",".join(f"{k}={v}" for k, v in peer.labels.items())
    for pod in kubectl_json("-n", peer.namespace, "get", "pods", "-l", selector)["items"]:
        ip = pod["status"].get("podIP")
        on_real_node = pod["spec"].get("nodeName") == "shipyard-node"
        labels = pod["metadata"].get("labels", {})
        if ip and on_real_node and pod["status"].get("phase") == "Running" and "shipyard.dev/test-probe" not in labels:
            return ip
    return None


@pytest.fixture(scope="module")
def outside() -> Iterator[str]:
    """A listener outside the cluster, on this machine: a container of this test's own, port 443."""
    name = f"shipyard-outside-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, PROBE_IMAGE, "python3", "-m", "http.server", "443"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        ip = subprocess.run(
            ["docker", "inspect", "-f", "{{ .NetworkSettings.IPAddress }}", name],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        yield ip
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)


def plan(flows: dict[str, Flow], outside: str) -> tuple[dict[Peer, str], dict[Peer, set[tuple[int, str, str]]]]:
    """Where each destination is: a real pod's address, or the ports a listening probe must open."""
    api = kubectl_json("-n", "default", "get", "endpoints", "kubernetes")["subsets"][0]["addresses"][0]["ip"]
    addresses: dict[Peer, str] = {}
    listen: dict[Peer, set[tuple[int, str, str]]] = {}
    for flow in flows.values():
        dst = flow.destination
        if dst.kind == "apiserver":
            addresses[dst] = api
        elif dst.kind == "outside":
            addresses[dst] = outside
        elif dst in listen or (dst not in addresses and not (ip := real_pod_ip(dst))):
            listen.setdefault(dst, set()).add((flow.port, flow.protocol, flow.port_name))
        else:
            addresses.setdefault(dst, ip)
    return addresses, listen


@pytest.fixture(scope="module")
def network(probe_image: str, outside: str) -> Iterator[dict]:
    """Probe pods for every source and every destination without a real pod; their addresses."""
    probes = Probes(probe_image)
    created = []
    for namespace in EXTRA_NAMESPACES:
        if kubectl("get", "namespace", namespace, check=False).returncode != 0:
            kubectl("create", "namespace", namespace)
            created.append(namespace)
    flows = {**ALLOWED, **DENIED}
    # From pods only: the host's own flow is tried from the host (test_app.py).
    tried = {
        k: f
        for k, f in flows.items()
        if f.source.kind == "pod" and (f.protocol == "TCP" or f.destination.name == "dns")
    }
    addresses, listen = plan(tried, outside)
    sources: dict[Peer, str] = {}
    try:
        peers = list({f.source for f in tried.values()} | set(listen))
        started = probes.start_all([(p.namespace, p.labels, sorted(listen.get(p, ()))) for p in peers])
        sources.update(zip(peers, started, strict=True))
        probes.wait_ready()
        for peer in listen:
            addresses[peer] = probes.ip(peer.namespace, sources[peer])
        yield {"flows": tried, "sources": sources, "addresses": addresses, "probes": probes}
    finally:
        probes.remove()
        for namespace in created:
            kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def target(network: dict, flow: Flow) -> tuple[str, int, str]:
    """Where a flow's try goes: an address, a port and a protocol (DNS: a real query through the pod's resolver)."""
    if flow.destination.name == "dns" and flow.protocol == "UDP":
        return ("kubernetes.default.svc.cluster.local.", 443, "DNS")  # through the kube-dns Service
    port = 6443 if flow.destination.kind == "apiserver" else flow.port  # the API server's real port after the DNAT
    return (network["addresses"][flow.destination], port, flow.protocol)


def outcomes(network: dict, names: list[str]) -> dict[str, bool]:
    """Each flow tried from its source's probe pod (one exec per source, its flows at once)."""
    flows, sources = network["flows"], network["sources"]
    tries = {n: (flows[n].source.namespace, sources[flows[n].source], target(network, flows[n])) for n in names}
    return network["probes"].reach_all(tries)


def test_every_allowed_flow_connects_from_a_real_pod(network: dict) -> None:
    names = [n for n in ALLOWED if n in network["flows"]]
    result = outcomes(network, names)
    assert [n for n, ok in result.items() if not ok] == [], result
    print(f"{len(names)} allowed flows connected from real pods")


def test_every_denied_flow_fails_from_a_real_pod(network: dict) -> None:
    names = [n for n in DENIED if n in network["flows"]]
    pairs = {tuple(sorted((network["flows"][n].source.namespace, network["flows"][n].destination.namespace)))
             for n in names if network["flows"][n].destination.kind == "pod"}  # fmt: skip
    managed_pairs = {p for p in pairs if set(p) <= set(MANAGED) and p[0] != p[1]}
    # Every pair of the four managed namespaces has a denied flow.
    assert len(managed_pairs) == 6, managed_pairs
    result = outcomes(network, names)
    assert [n for n, ok in result.items() if ok] == [], result
    print(f"{len(names)} denied flows failed from real pods")


def test_the_denied_flows_connect_without_the_policies(network: dict) -> None:
    """The control: the same denied flows go through once the policies are removed;
    the security play then restores them and the flows are denied again."""
    names = [n for n in DENIED if n in network["flows"]]
    saved = {ns: kubectl("-n", ns, "get", "networkpolicy", "-o", "name").stdout.split() for ns in MANAGED}
    assert any(saved.values()), "no NetworkPolicy to remove: the site was not hardened"
    try:
        for namespace in MANAGED:
            kubectl("-n", namespace, "delete", "networkpolicy", "--all")
        result = outcomes(network, names)
        assert [n for n, ok in result.items() if not ok] == [], f"blocked without any policy: {result}"
    finally:
        restore = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/sandbox",
             "playbooks/site.yml", "--tags", "security"],
            cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
    assert restore.returncode == 0, restore.stdout[-3000:]
    again = outcomes(network, names)
    assert [n for n, ok in again.items() if ok] == [], again

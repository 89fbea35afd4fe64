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

ROOT = Path(__file__).resolve().parents[2]
APISERVER = "192.0.2.1"  # the render's placeholder address of the API server
INTERNET = "93.184.216.34"


_ips = iter(range(10, 250))


def pod(namespace: str, **labels: str) -> dict:
    """A pod by its labels and namespace, with a pod-network address of its own."""
    return {"Internal": {"PodLabels": labels, "Namespace": namespace,
                         "NamespaceLabels": {"kubernetes.io/metadata.name": namespace}},
            "IP": f"10.244.0.{next(_ips)}"}  # fmt: skip


def stack(name: str, namespace: str) -> dict:
    return pod(namespace, **{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": namespace})


APP = pod("shipyard", **{"app.kubernetes.io/name": "shipyard-app", "app.kubernetes.io/instance": "shipyard-app"})
DB = pod("shipyard", **{"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "shipyard-app"})
PROM, AM, GRAFANA, KSM = (stack(n, "shipyard-monitoring") for n in
                          ("prometheus", "alertmanager", "grafana", "kube-state-metrics"))  # fmt: skip
ES, LOGSTASH, KIBANA = (stack(n, "shipyard-logging") for n in ("elasticsearch", "logstash", "kibana"))
SETUP = pod("shipyard-logging", **{"app.kubernetes.io/name": "logging-setup"})
FILEBEAT = stack("filebeat", "shipyard-logging-agent")
INGRESS = pod("ingress-nginx", **{"app.kubernetes.io/name": "ingress-nginx"})
DNS = pod("kube-system", **{"k8s-app": "kube-dns"})
STRANGER = pod("default", app="stranger")
API = {"IP": APISERVER}
NET = {"IP": INTERNET}

# (source, destination, port, port name, protocol)
ALLOWED = {
    "ingress -> app": (INGRESS, APP, 8080, "http", "TCP"),
    "prometheus -> app": (PROM, APP, 8080, "http", "TCP"),
    "app -> postgresql": (APP, DB, 5432, "postgresql", "TCP"),
    "app -> dns (udp)": (APP, DNS, 53, "dns", "UDP"),
    "postgresql -> dns (tcp)": (DB, DNS, 53, "dns-tcp", "TCP"),
    "prometheus -> prometheus": (PROM, PROM, 9090, "web", "TCP"),
    "prometheus -> alertmanager": (PROM, AM, 9093, "web", "TCP"),
    "prometheus -> grafana": (PROM, GRAFANA, 3000, "http", "TCP"),
    "prometheus -> kube-state-metrics": (PROM, KSM, 8080, "http-metrics", "TCP"),
    "prometheus -> api server": (PROM, API, 6443, "", "TCP"),
    "kube-state-metrics -> api server": (KSM, API, 6443, "", "TCP"),
    "grafana -> prometheus": (GRAFANA, PROM, 9090, "web", "TCP"),
    "grafana -> elasticsearch": (GRAFANA, ES, 9200, "http", "TCP"),
    "ingress -> grafana": (INGRESS, GRAFANA, 3000, "http", "TCP"),
    "alertmanager -> alertmanager (gossip)": (AM, AM, 9094, "mesh-udp", "UDP"),
    "alertmanager -> receivers": (AM, NET, 443, "", "TCP"),
    "filebeat -> logstash": (FILEBEAT, LOGSTASH, 5044, "beats", "TCP"),
    "filebeat -> api server": (FILEBEAT, API, 443, "", "TCP"),
    "logstash -> elasticsearch": (LOGSTASH, ES, 9200, "http", "TCP"),
    "kibana -> elasticsearch": (KIBANA, ES, 9200, "http", "TCP"),
    "setup -> elasticsearch": (SETUP, ES, 9200, "http", "TCP"),
    "setup -> kibana": (SETUP, KIBANA, 5601, "http", "TCP"),
    "elasticsearch -> elasticsearch (transport)": (ES, ES, 9300, "transport", "TCP"),
    "ingress -> kibana": (INGRESS, KIBANA, 5601, "http", "TCP"),
}
DENIED = {
    "stranger -> app": (STRANGER, APP, 8080, "http", "TCP"),
    "stranger -> postgresql": (STRANGER, DB, 5432, "postgresql", "TCP"),
    "stranger -> grafana": (STRANGER, GRAFANA, 3000, "http", "TCP"),
    "stranger -> elasticsearch": (STRANGER, ES, 9200, "http", "TCP"),
    "ingress -> postgresql": (INGRESS, DB, 5432, "postgresql", "TCP"),
    "ingress -> prometheus": (INGRESS, PROM, 9090, "web", "TCP"),
    "ingress -> elasticsearch": (INGRESS, ES, 9200, "http", "TCP"),
    "app -> elasticsearch": (APP, ES, 9200, "http", "TCP"),
    "app -> prometheus": (APP, PROM, 9090, "web", "TCP"),
    "app -> internet": (APP, NET, 443, "", "TCP"),
    "app -> api server": (APP, API, 6443, "", "TCP"),
    "postgresql -> internet": (DB, NET, 443, "", "TCP"),
    "prometheus -> postgresql": (PROM, DB, 5432, "postgresql", "TCP"),
    "prometheus -> elasticsearch": (PROM, ES, 9200, "http", "TCP"),
    "prometheus -> internet": (PROM, NET, 443, "", "TCP"),
    "grafana -> app": (GRAFANA, APP, 8080, "http", "TCP"),
    "grafana -> api server": (GRAFANA, API, 6443, "", "TCP"),
    "alertmanager -> app": (AM, APP, 8080, "http", "TCP"),
    "kube-state-metrics -> app": (KSM, APP, 8080, "http", "TCP"),
    "filebeat -> elasticsearch (logstash in between)": (FILEBEAT, ES, 9200, "http", "TCP"),
    "filebeat -> app": (FILEBEAT, APP, 8080, "http", "TCP"),
    "filebeat -> internet": (FILEBEAT, NET, 443, "", "TCP"),
    "logstash -> internet": (LOGSTASH, NET, 443, "", "TCP"),
    "elasticsearch -> internet": (ES, NET, 443, "", "TCP"),
    "kibana -> app": (KIBANA, APP, 8080, "http", "TCP"),
    "kibana -> prometheus": (KIBANA, PROM, 9090, "web", "TCP"),
    "setup -> app": (SETUP, APP, 8080, "http", "TCP"),
}


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    run = subprocess.run(
        ["ansible-playbook", "-i", "inventories/sandbox", "playbooks/render.yml", "-e", f"shipyard_render_dir={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    policies = [d for d in yaml.safe_load_all((out / "hardening/networkpolicies.yml").read_text()) if d]
    assert len(policies) == 19
    # cyclonus reads one object per file.
    target = tmp_path_factory.mktemp("policies")
    for doc in policies:
        (target / f"{doc['metadata']['namespace']}.{doc['metadata']['name']}.yml").write_text(yaml.safe_dump(doc))
    return target


def verdicts(policy_dir: Path, flows: dict[str, tuple], tmp_path: Path) -> dict[str, bool]:
    traffic = [{"Source": s, "Destination": d, "ResolvedPort": p, "ResolvedPortName": n, "Protocol": proto}
               for s, d, p, n, proto in flows.values()]  # fmt: skip
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

"""NetworkPolicies from flows described as data: what each description becomes, and that a
description which would open a workload to everyone is refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("shipyard_netpol", ROOT / "plugins/filter/netpol.py")
netpol = importlib.util.module_from_spec(spec)
spec.loader.exec_module(netpol)

DNS = {"namespace": "kube-system", "pods": {"k8s-app": "kube-dns"}}
LABELS = {"app.kubernetes.io/managed-by": "shipyard"}
DB = {"namespace": "a", "pods": {"app.kubernetes.io/name": "postgresql"}}


def render(flows: list[dict], namespaces: tuple[str, ...] = ()) -> list[dict]:
    return netpol.network_policies(flows, list(namespaces), DNS, LABELS)


def test_each_namespace_gets_a_default_deny_and_dns() -> None:
    deny, dns = render([], ("a",))
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert dns["spec"]["policyTypes"] == ["Egress"]
    assert dns["spec"]["egress"][0]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert dns["spec"]["egress"][0]["to"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
    }


def test_a_flow_becomes_one_policy_with_its_peers_and_ports() -> None:
    (app,) = render([{
        "namespace": "a", "name": "app", "pods": {"app.kubernetes.io/name": "app"},
        "ingress": [{"from": ["172.16.0.0/12"], "ports": ["http"]}],
        "egress": [{"to": [DB], "ports": ["postgresql", "9187", "5353/UDP"]}],
    }])  # fmt: skip
    assert app["metadata"] == {"name": "app", "namespace": "a", "labels": LABELS}
    assert app["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "app"}}
    assert app["spec"]["ingress"] == [{"from": [{"ipBlock": {"cidr": "172.16.0.0/12"}}],
                                       "ports": [{"port": "http", "protocol": "TCP"}]}]  # fmt: skip
    egress = app["spec"]["egress"][0]
    assert egress["to"][0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "postgresql"}}
    assert egress["ports"] == [{"port": "postgresql", "protocol": "TCP"}, {"port": 9187, "protocol": "TCP"},
                               {"port": 5353, "protocol": "UDP"}]  # fmt: skip


def test_an_empty_list_denies_and_a_missing_key_leaves_the_direction_alone() -> None:
    (db,) = render([{"namespace": "a", "name": "db", "pods": DB["pods"], "egress": []}])
    assert db["spec"]["policyTypes"] == ["Egress"]
    assert "egress" not in db["spec"] and "ingress" not in db["spec"]


def test_a_flow_whose_condition_fails_is_left_out() -> None:
    assert render([{"namespace": "a", "name": "x", "when": "False", "egress": []}]) == []
    assert render([{"namespace": "a", "name": "x", "when": False, "egress": []}]) == []


@pytest.mark.parametrize("rule", [{"to": [], "ports": ["http"]}, {"to": [DB], "ports": []}])
def test_a_rule_that_would_open_the_workload_to_all_is_refused(rule: dict) -> None:
    with pytest.raises(netpol.AnsibleFilterError, match="would open it to all"):
        render([{"namespace": "a", "name": "x", "egress": [rule]}])


def test_a_peer_that_is_neither_pods_nor_a_cidr_is_refused() -> None:
    with pytest.raises(netpol.AnsibleFilterError, match="a peer is"):
        render([{"namespace": "a", "name": "x", "egress": [{"to": [{"pods": {}}], "ports": ["http"]}]}])


def test_a_peer_in_several_namespaces_selects_them_all_and_only_them() -> None:
    # Prometheus scrapes every tenant's app: one peer, the namespaces listed by name.
    every_app = {"namespace": ["tenant-a", "tenant-b"], "pods": {"app.kubernetes.io/name": "shipyard-app"}}
    (prom,) = render([{"namespace": "m", "name": "prometheus", "egress": [{"to": [every_app], "ports": ["http"]}]}])
    assert prom["spec"]["egress"][0]["to"][0]["namespaceSelector"] == {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["tenant-a", "tenant-b"]}
        ]
    }
    # One namespace in a list is written as a single one is.
    (one,) = render([{"namespace": "m", "name": "p", "egress": [{"to": [{**every_app, "namespace": ["a"]}],
                                                                  "ports": ["http"]}]}])  # fmt: skip
    assert one["spec"]["egress"][0]["to"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "a"}
    }


@pytest.mark.parametrize("namespace", [[], [""], None])
def test_a_peer_with_no_namespace_is_refused(namespace: object) -> None:
    # An empty namespace list would select no namespace, or with a bad selector every one: refused.
    with pytest.raises(netpol.AnsibleFilterError, match="a peer is"):
        render([{"namespace": "a", "name": "x",
                 "egress": [{"to": [{"namespace": namespace, "pods": {}}], "ports": ["http"]}]}])  # fmt: skip

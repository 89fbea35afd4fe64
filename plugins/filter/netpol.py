"""NetworkPolicies from a data description of the flows (roles/hardening/vars/main.yml)."""

from __future__ import annotations

from typing import Any

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # the unit tests load this file alone
    AnsibleFilterError = ValueError  # type: ignore[assignment,misc]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0", "off", "none")
    return bool(value)


def _peer(peer: Any, where: str) -> dict[str, Any]:
    """{namespace, pods} -> namespace and pod selectors; a string -> an IP block (a CIDR).
    `namespace` may be a list (the same pods in each of several namespaces, as every tenant's app)."""
    if isinstance(peer, str):
        return {"ipBlock": {"cidr": peer}}
    namespace = peer.get("namespace") if isinstance(peer, dict) else None
    names = [namespace] if isinstance(namespace, str) else list(namespace or [])
    if not names or not all(isinstance(n, str) and n for n in names) or not isinstance(peer.get("pods"), dict):
        raise AnsibleFilterError(f"{where}: a peer is {{namespace, pods}} or a CIDR, not {peer!r}")
    if len(names) == 1:
        selector: dict[str, Any] = {"matchLabels": {"kubernetes.io/metadata.name": names[0]}}
    else:
        selector = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": names}]}
    return {"namespaceSelector": selector, "podSelector": {"matchLabels": dict(peer["pods"])}}


def _port(port: Any) -> dict[str, Any]:
    """http, 53/UDP, 443 -> {port, protocol}; TCP unless named."""
    name, _sep, protocol = str(port).partition("/")
    return {"port": int(name) if name.isdigit() else name, "protocol": protocol or "TCP"}


def _rules(rules: list[dict[str, Any]], key: str, where: str) -> list[dict[str, Any]]:
    out = []
    for i, rule in enumerate(rules):
        peers, ports = rule.get(key) or [], rule.get("ports") or []
        # An empty peer list would allow every peer: the opposite of what a flow means.
        if not peers or not ports:
            raise AnsibleFilterError(f"{where} rule {i}: no {key} peers or no ports; that would open it to all")
        out.append({key: [_peer(p, where) for p in peers], "ports": [_port(p) for p in ports]})
    return out


def _policy(namespace: str, name: str, pods: dict[str, Any], labels: dict[str, str], flow: dict[str, Any]) -> dict:
    where = f"NetworkPolicy {namespace}/{name}"
    spec: dict[str, Any] = {"podSelector": {"matchLabels": dict(pods)} if pods else {}, "policyTypes": []}
    for direction, key, kind in (("ingress", "from", "Ingress"), ("egress", "to", "Egress")):
        if direction in flow and flow[direction] is not None:
            spec["policyTypes"].append(kind)
            rules = _rules(flow[direction], key, where)
            if rules:  # an empty list is left out: the API drops it, and the type alone denies
                spec[direction] = rules
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }


def network_policies(
    flows: list[dict[str, Any]], namespaces: list[str], dns: dict[str, Any], labels: dict[str, str]
) -> list[dict[str, Any]]:
    """In each namespace a default deny and DNS egress to `dns`; then one policy per flow whose
    `when` holds: {namespace, name, pods, ingress: [{from, ports}], egress: [{to, ports}]}."""
    policies = []
    for namespace in namespaces:
        policies.append(_policy(namespace, "default-deny", {}, labels, {"ingress": [], "egress": []}))
        dns_flow = {"egress": [{"to": [dns], "ports": ["53/UDP", "53/TCP"]}]}
        policies.append(_policy(namespace, "allow-dns", {}, labels, dns_flow))
    for flow in flows:
        if _truthy(flow.get("when", True)):
            policies.append(_policy(flow["namespace"], flow["name"], flow.get("pods") or {}, labels, flow))
    return policies


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"network_policies": network_policies}

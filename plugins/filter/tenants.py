"""The app instances a site manages: one per tenant (a host of the inventory's `tenants`
group), or the one app of a single-tenant inventory (playbooks/group_vars/all/wiring.yml)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # the unit tests load this file alone
    AnsibleFilterError = ValueError  # type: ignore[assignment,misc]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def _backup_egress(host: str, bucket: Any) -> dict[str, Any]:
    """Where the backup pods may reach the host's backup bucket (shipyard_backup_bucket): its
    `egress` peers, on the endpoint's port. A bucket without `egress` would be unreachable
    behind the default deny: refused, naming the host."""
    if not bucket or not bucket.get("bucket"):
        return {"to": [], "ports": []}
    peers = bucket.get("egress") or []
    if not isinstance(peers, list) or not peers:
        raise AnsibleFilterError(
            f"{host}: shipyard_backup_bucket names a bucket but no egress, the peers its endpoint is at "
            "(CIDRs, or {namespace, pods} in this cluster) that the backup pods' NetworkPolicy opens"
        )
    url = urlsplit(str(bucket.get("endpoint") or ""))
    if url.scheme not in ("http", "https") or not url.hostname:
        raise AnsibleFilterError(
            f"{host}: shipyard_backup_bucket.endpoint is http(s)://host[:port], not {url.geturl()!r}"
        )
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError as err:
        raise AnsibleFilterError(f"{host}: shipyard_backup_bucket.endpoint: {err}") from err
    return {"to": peers, "ports": [port]}


def app_instances(hosts: list[str], hostvars: Any) -> list[dict[str, Any]]:
    """{name, namespace, tenant, frontend, backup_egress} of the app each host deploys, from that
    host's shipyard_app_name, shipyard_app_namespace, shipyard_tenant, shipyard_app_frontend_enabled
    and shipyard_backup_bucket. Two instances in one namespace would overwrite each other: refused,
    naming both."""
    apps, seen = [], {}
    for host in hosts:
        hv = hostvars[host]
        app = {
            "name": str(hv["shipyard_app_name"]),
            "namespace": str(hv["shipyard_app_namespace"]),
            "tenant": str(hv.get("shipyard_tenant") or ""),
            "frontend": _truthy(hv.get("shipyard_app_frontend_enabled", False)),
            "backup_egress": _backup_egress(host, hv.get("shipyard_backup_bucket") or {}),
        }
        if app["namespace"] in seen:
            raise AnsibleFilterError(
                f"tenants {seen[app['namespace']]} and {host} have the same namespace {app['namespace']} "
                "(shipyard_app_namespace): each tenant needs its own"
            )
        seen[app["namespace"]] = host
        apps.append(app)
    return apps


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"app_instances": app_instances}

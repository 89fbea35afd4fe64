"""The app instances a site manages: one per tenant (a host of the inventory's `tenants`
group), or the one app of a single-tenant inventory (playbooks/group_vars/all/wiring.yml)."""

from __future__ import annotations

from typing import Any

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # the unit tests load this file alone
    AnsibleFilterError = ValueError  # type: ignore[assignment,misc]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def app_instances(hosts: list[str], hostvars: Any) -> list[dict[str, Any]]:
    """{name, namespace, tenant, frontend} of the app each host deploys, from that host's
    shipyard_app_name, shipyard_app_namespace, shipyard_tenant and shipyard_app_frontend_enabled.
    Two instances in one namespace would overwrite each other: refused, naming both."""
    apps, seen = [], {}
    for host in hosts:
        hv = hostvars[host]
        app = {
            "name": str(hv["shipyard_app_name"]),
            "namespace": str(hv["shipyard_app_namespace"]),
            "tenant": str(hv.get("shipyard_tenant") or ""),
            "frontend": _truthy(hv.get("shipyard_app_frontend_enabled", False)),
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

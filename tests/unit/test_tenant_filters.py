"""The app instances a site manages, read from the inventory's hosts (plugins/filter/tenants.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("shipyard_tenants", ROOT / "plugins/filter/tenants.py")
tenants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tenants)


def host(namespace: str, tenant: str = "", frontend: object = False) -> dict:
    return {"shipyard_app_name": "shipyard-app", "shipyard_app_namespace": namespace, "shipyard_tenant": tenant,
            "shipyard_app_frontend_enabled": frontend}  # fmt: skip


def test_each_tenant_host_is_one_instance_in_its_namespace() -> None:
    hostvars = {"tenant-a": host("tenant-a", "tenant-a", True), "tenant-b": host("b-prod", "tenant-b", "false")}
    assert tenants.app_instances(["tenant-a", "tenant-b"], hostvars) == [
        {"name": "shipyard-app", "namespace": "tenant-a", "tenant": "tenant-a", "frontend": True},
        {"name": "shipyard-app", "namespace": "b-prod", "tenant": "tenant-b", "frontend": False},
    ]


def test_a_single_tenant_inventory_is_the_controllers_one_app() -> None:
    assert tenants.app_instances(["localhost"], {"localhost": host("shipyard")}) == [
        {"name": "shipyard-app", "namespace": "shipyard", "tenant": "", "frontend": False}
    ]


def test_two_tenants_in_one_namespace_are_refused_naming_both() -> None:
    hostvars = {"a": host("shared", "a"), "b": host("shared", "b")}
    with pytest.raises(tenants.AnsibleFilterError, match="tenants a and b have the same namespace shared"):
        tenants.app_instances(["a", "b"], hostvars)

"""The app instances a site manages, read from the inventory's hosts (plugins/filter/tenants.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("shipyard_tenants", ROOT / "plugins/filter/tenants.py")
tenants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tenants)


NO_BUCKET = {"to": [], "ports": []}


def host(namespace: str, tenant: str = "", frontend: object = False) -> dict:
    return {"shipyard_app_name": "shipyard-app", "shipyard_app_namespace": namespace, "shipyard_tenant": tenant,
            "shipyard_app_frontend_enabled": frontend}  # fmt: skip


def test_each_tenant_host_is_one_instance_in_its_namespace() -> None:
    hostvars = {"tenant-a": host("tenant-a", "tenant-a", True), "tenant-b": host("b-prod", "tenant-b", "false")}
    assert tenants.app_instances(["tenant-a", "tenant-b"], hostvars) == [
        {
            "name": "shipyard-app",
            "namespace": "tenant-a",
            "tenant": "tenant-a",
            "frontend": True,
            "backup_egress": NO_BUCKET,
        },
        {
            "name": "shipyard-app",
            "namespace": "b-prod",
            "tenant": "tenant-b",
            "frontend": False,
            "backup_egress": NO_BUCKET,
        },
    ]


def test_a_single_tenant_inventory_is_the_controllers_one_app() -> None:
    assert tenants.app_instances(["localhost"], {"localhost": host("shipyard")}) == [
        {"name": "shipyard-app", "namespace": "shipyard", "tenant": "", "frontend": False, "backup_egress": NO_BUCKET}
    ]


def test_two_tenants_in_one_namespace_are_refused_naming_both() -> None:
    hostvars = {"a": host("shared", "a"), "b": host("shared", "b")}
    with pytest.raises(tenants.AnsibleFilterError, match="tenants a and b have the same namespace shared"):
        tenants.app_instances(["a", "b"], hostvars)


def test_a_backup_bucket_opens_its_egress_peers_on_the_endpoints_port() -> None:
    in_cluster = {"namespace": "s3", "pods": {"app": "gw"}}
    hostvars = {
        "a": host("a", "a") | {"shipyard_backup_bucket": {"endpoint": "http://gw.s3.svc:7070", "bucket": "backups",
                                                          "egress": [in_cluster]}},
        "b": host("b", "b") | {"shipyard_backup_bucket": {"endpoint": "https://s3.example.com", "bucket": "backups",
                                                          "egress": ["203.0.113.0/24"]}},
    }  # fmt: skip
    a, b = tenants.app_instances(["a", "b"], hostvars)
    assert a["backup_egress"] == {"to": [in_cluster], "ports": [7070]}
    assert b["backup_egress"] == {"to": ["203.0.113.0/24"], "ports": [443]}


@pytest.mark.parametrize(
    ("bucket", "message"),
    [
        ({"endpoint": "https://s3.example.com", "bucket": "backups"}, "names a bucket but no egress"),
        ({"endpoint": "s3.example.com", "bucket": "backups", "egress": ["203.0.113.0/24"]}, "is http\\(s\\)://host"),
        (
            {"endpoint": "http://s3:99999", "bucket": "backups", "egress": ["203.0.113.0/24"]},
            "endpoint: Port out of range",
        ),
    ],
)
def test_a_bucket_the_backups_could_not_reach_is_refused_naming_the_host(bucket: dict, message: str) -> None:
    with pytest.raises(tenants.AnsibleFilterError, match=f"^t: shipyard_backup_bucket.*{message}"):
        tenants.app_instances(["t"], {"t": host("t", "t") | {"shipyard_backup_bucket": bucket}})

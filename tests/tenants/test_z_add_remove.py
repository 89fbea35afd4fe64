"""Converging inventories/tenants again, dropping a tenant and adding it back, on the local
cluster after `make up ENV=tenants`. Each step is the site as a user runs it; the other
tenant's objects must come out of it untouched (same resourceVersions, same pods).
Runs last among the tenants tests: it removes tenant-b and converges it anew."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from realpods import KUBECONFIG, ROOT, kubectl
from tenantsite import INVENTORY, TENANTS, recap, site, state_of


@pytest.fixture
def without_tenant_b(tmp_path: Path) -> str:
    """inventories/tenants with tenant-b left out of the tenants group, and nothing else changed."""
    inventory = tmp_path / "tenants"
    inventory.mkdir()
    hosts = (ROOT / INVENTORY / "hosts.yml").read_text()
    assert "        tenant-b:\n" in hosts
    (inventory / "hosts.yml").write_text(hosts.replace("        tenant-b:\n", ""))
    for folder in ("group_vars", "host_vars"):
        (inventory / folder).symlink_to(ROOT / INVENTORY / folder)
    return str(inventory)


def test_a_second_converge_changes_nothing() -> None:
    before = {t: state_of(t) for t in TENANTS}
    started = time.monotonic()
    run = site(INVENTORY)
    took = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:]
    assert recap(run.stdout) == {h: (0, 0) for h in ["localhost", *TENANTS]}, run.stdout[-1500:]
    assert {t: state_of(t) for t in TENANTS} == before
    print(f"no-op rerun of the two-tenant site: {took:.1f} s")


def test_a_dropped_tenant_is_removed_only_when_confirmed_and_alone(without_tenant_b: str) -> None:
    kubeconfig = f"shipyard_kubeconfig={KUBECONFIG}"
    tenant_a = state_of("tenant-a")
    refused = site(without_tenant_b, "-e", kubeconfig)
    assert refused.returncode != 0
    assert "Tenant namespace tenant-b is on the sandbox cluster but not in the inventory" in refused.stdout
    assert "-e shipyard_tenant_removal_confirm=yes" in refused.stdout
    assert kubectl("get", "namespace", "tenant-b", check=False).returncode == 0

    removed = site(without_tenant_b, "-e", kubeconfig, "-e", "shipyard_tenant_removal_confirm=yes")
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert kubectl("get", "namespace", "tenant-b", check=False).returncode != 0
    assert kubectl("get", "persistentvolumeclaims", "-A", "-o", "name", "-l",
                   "app.kubernetes.io/instance=shipyard-app").stdout.count("tenant-b") == 0  # fmt: skip
    assert recap(removed.stdout)["tenant-a"] == (0, 0)
    assert state_of("tenant-a") == tenant_a


def test_a_tenant_added_to_the_list_converges_and_changes_nothing_of_the_others() -> None:
    tenant_a = state_of("tenant-a")
    run = site(INVENTORY)
    assert run.returncode == 0, run.stdout[-3000:]
    assert recap(run.stdout)["tenant-a"] == (0, 0)
    assert recap(run.stdout)["tenant-b"][0] > 0
    assert state_of("tenant-a") == tenant_a
    ready = kubectl("-n", "tenant-b", "get", "deployment", "shipyard-app", "-o", "jsonpath={.status.readyReplicas}")
    assert int(ready.stdout or 0) >= 1

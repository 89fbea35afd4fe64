"""What the backup tests on the real node share (tests/cluster/test_backup*.py): the
database as psql sees it, and items written and read through the app's API."""

from __future__ import annotations

import uuid

from realpods import APP_NAMESPACE, http, kubectl

DB_POD = "shipyard-app-postgresql-0"


def psql(sql: str, database: str = "app") -> str:
    return kubectl(
        "-n", APP_NAMESPACE, "exec", DB_POD, "--", "psql", "-U", "app", "-d", database, "-tAc", sql
    ).stdout.strip()  # fmt: skip


def new_item(app_url: str, api_token: str, prefix: str) -> tuple[int, str]:
    """Write an item with a fresh name through the API; return its id and name."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    status, item = http("POST", f"{app_url}/api/items", {"name": name, "quantity": 3}, api_token)
    assert status == 201, item
    return item["id"], name


def has_item(app_url: str, item_id: int, name: str) -> bool:
    status, item = http("GET", f"{app_url}/api/items/{item_id}")
    assert status in (200, 404), item
    return status == 200 and item["name"] == name

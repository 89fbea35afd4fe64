"""Against a real PostgreSQL on loopback: replicas share data and migrate once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from pgtmp import fresh_database
from shipyard_app.config import Config
from shipyard_app.db import MIGRATIONS, Store

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(postgres: str) -> Iterator[str]:
    """A fresh, empty database for one test."""
    with fresh_database(postgres) as url:
        yield url


def test_two_replicas_share_one_database(make_app, database: str) -> None:
    one = make_app(Config(database_url=database)).test_client()
    two = make_app(Config(database_url=database)).test_client()
    assert one.get("/info").json["database"] == "postgresql"
    item = one.post("/api/items", json={"name": "shared", "quantity": 2}).json
    assert two.get(f"/api/items/{item['id']}").json == item
    assert two.patch(f"/api/items/{item['id']}", json={"quantity": 9}).status_code == 200
    assert one.get(f"/api/items/{item['id']}").json["quantity"] == 9
    assert one.get("/api/items").json["total"] == two.get("/api/items").json["total"] == 1
    assert one.get("/ready").json == {"status": "ready"}


def test_a_connection_the_database_closed_is_replaced_before_the_next_request(database: str) -> None:
    """As after PostgreSQL restarts: the server ends every session. The thread's next call
    (after a second of idleness, as between requests) opens a new connection instead of
    failing once on the closed one."""
    store = Store(database)
    try:
        store.create("before", "", 1)
        with psycopg.connect(database, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert ended == (1,)
        time.sleep(1.2)
        items, total = store.list(10, 0)
        assert (total, [i["name"] for i in items]) == (1, ["before"])
    finally:
        store.close()


def test_replicas_starting_together_migrate_exactly_once(database: str) -> None:
    stores = [Store(database) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def start(store: Store) -> None:
        barrier.wait()
        try:
            store.ensure_schema()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    with psycopg.connect(database) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def test_a_restart_keeps_the_data_and_the_schema(make_app, database: str) -> None:
    first = make_app(Config(database_url=database)).test_client()
    first.post("/api/items", json={"name": "kept"})
    again = make_app(Config(database_url=database)).test_client()
    assert [i["name"] for i in again.get("/api/items").json["items"]] == ["kept"]


def test_ready_follows_the_database(make_app, postgres: str) -> None:
    bad = postgres.replace("postgres:", "postgres:wrong-", 1)
    client = make_app(Config(database_url=bad)).test_client()
    response = client.get("/ready")
    assert response.status_code == 503
    assert "wrong-" not in response.get_data(as_text=True), "the password must not appear in the reason"

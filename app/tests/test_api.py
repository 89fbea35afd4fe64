"""The HTTP API through the Flask test client: endpoints, CRUD, and every kind of bad input."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient


def make(client: FlaskClient, **fields: object) -> dict:
    response = client.post("/api/items", json={"name": "widget", **fields})
    assert response.status_code == 201, response.json
    return response.json


def test_index_describes_the_service(client: FlaskClient) -> None:
    body = client.get("/").json
    assert body["name"] == "shipyard-app"
    assert body["links"]["metrics"] == "/metrics"


def test_health_and_ready(client: FlaskClient) -> None:
    assert client.get("/health").json == {"status": "ok"}
    assert client.get("/ready").json == {"status": "ready"}


def test_info_names_the_build(client: FlaskClient) -> None:
    body = client.get("/info").json
    assert set(body) == {"name", "version", "git_revision", "started_at", "hostname", "database"}
    assert body["database"] == "sqlite"


def test_crud_round_trip(client: FlaskClient) -> None:
    created = client.post("/api/items", json={"name": "  bolt ", "description": "M6", "quantity": 3})
    assert created.status_code == 201
    item = created.json
    assert created.headers["Location"] == f"/api/items/{item['id']}"
    assert (item["name"], item["description"], item["quantity"]) == ("bolt", "M6", 3)

    assert client.get(f"/api/items/{item['id']}").json == item

    patched = client.patch(f"/api/items/{item['id']}", json={"quantity": 5}).json
    assert (patched["name"], patched["quantity"]) == ("bolt", 5)
    assert patched["updated_at"] >= item["updated_at"]

    replaced = client.put(f"/api/items/{item['id']}", json={"name": "nut"}).json
    assert (replaced["name"], replaced["description"], replaced["quantity"]) == ("nut", "", 0)

    assert client.delete(f"/api/items/{item['id']}").status_code == 204
    assert client.get(f"/api/items/{item['id']}").status_code == 404
    assert client.delete(f"/api/items/{item['id']}").status_code == 404


def test_list_paginates(client: FlaskClient) -> None:
    ids = [make(client, name=f"n{i}")["id"] for i in range(5)]
    page = client.get("/api/items?limit=2&offset=1").json
    assert [i["id"] for i in page["items"]] == ids[1:3]
    assert (page["limit"], page["offset"], page["total"]) == (2, 1, 5)
    assert client.get("/api/items?offset=10").json["items"] == []


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json", response.data
    assert response.json["error"]["code"] == code
    assert response.json["request_id"] == response.headers["X-Request-ID"]
    return response.json["error"]


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({}, "name", "is required"),
        ({"name": ""}, "name", "must not be empty"),
        ({"name": "   "}, "name", "must not be empty"),
        ({"name": 7}, "name", "must be a string"),
        ({"name": None}, "name", "must be a string"),
        ({"name": "x" * 101}, "name", "must be at most 100 characters"),
        ({"name": "a", "description": "d" * 1001}, "description", "must be at most 1000 characters"),
        ({"name": "a", "description": ["x"]}, "description", "must be a string"),
        ({"name": "a", "quantity": "3"}, "quantity", "must be an integer"),
        ({"name": "a", "quantity": 2.5}, "quantity", "must be an integer"),
        ({"name": "a", "quantity": True}, "quantity", "must be an integer"),
        ({"name": "a", "quantity": -1}, "quantity", "must be between 0 and 2147483647"),
        ({"name": "a", "quantity": 2**40}, "quantity", "must be between 0 and 2147483647"),
        ({"name": "a", "colour": "red"}, "colour", "unknown field"),
    ],
)
def test_invalid_fields_are_named(client: FlaskClient, body: dict, field: str, problem: str) -> None:
    error = assert_json_error(client.post("/api/items", json=body), 422, "validation_failed")
    assert error["details"]["fields"][field] == problem


def test_patch_needs_a_known_field(client: FlaskClient) -> None:
    item = make(client)
    error = assert_json_error(client.patch(f"/api/items/{item['id']}", json={}), 422, "validation_failed")
    assert "body" in error["details"]["fields"]


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "bad_request"),
        ("[1, 2]", "application/json", 400, "bad_request"),
        ('"text"', "application/json", 400, "bad_request"),
        ("name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ('{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
        ('{"name": "x"}', None, 415, "unsupported_media_type"),
    ],
)
def test_malformed_bodies(client: FlaskClient, data: str, content_type: str | None, status: int, code: str) -> None:
    assert_json_error(client.post("/api/items", data=data, content_type=content_type), status, code)


def test_oversized_body_is_refused(client: FlaskClient) -> None:
    big = '{"name": "' + "x" * 20_000 + '"}'
    assert_json_error(client.post("/api/items", data=big, content_type="application/json"), 413, "payload_too_large")


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5", "99999999999999999999999", "%20"])
def test_malformed_ids(client: FlaskClient, raw: str) -> None:
    assert_json_error(client.get(f"/api/items/{raw}"), 400, "bad_request")


def test_unknown_id(client: FlaskClient) -> None:
    assert_json_error(client.get("/api/items/424242"), 404, "not_found")
    assert_json_error(client.put("/api/items/424242", json={"name": "x"}), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [("delete", "/api/items"), ("post", "/health"), ("put", "/metrics")])
def test_unsupported_methods(client: FlaskClient, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert_json_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    assert_json_error(client.get("/no/such/thing"), 404, "not_found")


@pytest.mark.parametrize("query", ["limit=abc", "limit=101", "offset=-5"])
def test_bad_pagination(client: FlaskClient, query: str) -> None:
    assert_json_error(client.get(f"/api/items?{query}"), 400, "bad_request")


def test_request_id_is_kept_when_safe_and_replaced_when_not(client: FlaskClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-12345678"}).headers["X-Request-ID"] == "abc-12345678"
    replaced = client.get("/health", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert replaced != "<script>" and len(replaced) == 32


def test_unexpected_errors_are_json_500(client: FlaskClient) -> None:
    error = assert_json_error(client.get("/faults/error?status=500"), 500, "injected_fault")
    assert "on purpose" in error["message"]


def test_faults_are_off_by_default(make_app, tmp_path) -> None:
    from shipyard_app.config import Config  # noqa: PLC0415

    plain = make_app(Config(database_url=f"sqlite:///{tmp_path}/x.db")).test_client()
    assert plain.get("/faults/error").status_code == 404


class TestAuth:
    def test_reads_are_open(self, auth_client: FlaskClient) -> None:
        assert auth_client.get("/api/items").status_code == 200

    @pytest.mark.parametrize(
        "header", [None, "Bearer wrong", "Basic {t}", "Bearer", "Bearer {t}x", "Bearer {t_short}", "bearer{t}"]
    )
    def test_writes_need_the_token(self, auth_client: FlaskClient, api_token: str, header: str | None) -> None:
        headers = {"Authorization": header.format(t=api_token, t_short=api_token[:-1])} if header else {}
        assert_json_error(auth_client.post("/api/items", json={"name": "a"}, headers=headers), 401, "unauthorized")

    def test_the_token_allows_every_write(self, auth_client: FlaskClient, api_token: str) -> None:
        headers = {"Authorization": f"Bearer {api_token}"}
        item = auth_client.post("/api/items", json={"name": "a"}, headers=headers).json
        assert auth_client.patch(f"/api/items/{item['id']}", json={"quantity": 1}, headers=headers).status_code == 200
        assert auth_client.delete(f"/api/items/{item['id']}", headers=headers).status_code == 204


def test_a_failed_migration_at_start_is_logged_as_json(
    make_app, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not a database error (those are logged as "not available"): an error of the migration itself.
    import threading  # noqa: PLC0415

    from shipyard_app.config import Config  # noqa: PLC0415
    from shipyard_app.db import Store  # noqa: PLC0415

    def broken(self: Store) -> int:
        raise RuntimeError("migration 3 is broken")

    monkeypatch.setattr(Store, "migrate", broken)
    make_app(Config(database_url=f"sqlite:///{tmp_path}/x.db"))
    for thread in threading.enumerate():
        if thread.name == "schema-at-start":
            thread.join(timeout=10)
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines() if line.strip()]  # every line is JSON
    (failed,) = [r for r in records if r["log.level"] == "error"]
    assert failed["message"] == "the schema migration at start failed"
    assert failed["error.type"] == "RuntimeError" and "migration 3 is broken" in failed["error.stack_trace"]
    assert "Traceback" not in err, err

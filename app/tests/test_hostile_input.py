"""Malformed and hostile input gets a JSON 4xx, never a 500, on SQLite and on
PostgreSQL alike: digits int() refuses, lone surrogates, control characters,
deeply nested JSON; then a property-based fuzz over the item API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgtmp import fresh_database
from shipyard_app.config import Config

TOKEN = "hostile-token-" + "y" * 16
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('hostile')}/items.db"
        return
    with fresh_database(request.getfixturevalue("postgres")) as url:
        yield url


@pytest.fixture(scope="module")
def hostile(backend: str) -> Iterator[FlaskClient]:
    from shipyard_app import create_app  # noqa: PLC0415  # after the backend exists

    app: Flask = create_app(Config(database_url=backend, api_token=TOKEN))
    yield app.test_client()
    app.extensions["shipyard_store"].close()


def post(client: FlaskClient, body: object, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(body)
    answer = client.post("/api/items", data=data, headers={**AUTH, "Content-Type": "application/json"})
    return answer.status_code, answer.get_json(silent=True)


@pytest.mark.parametrize(
    "path", ["/api/items/²", "/api/items/\u0661\u0662", "/api/items/%C2%B2", "/api/items/" + "9" * 30]
)
def test_ids_of_other_digits_are_refused(hostile: FlaskClient, path: str) -> None:
    answer = hostile.get(path)
    assert answer.status_code == 400, answer.data
    assert answer.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("query", ["limit=²", "limit=\u0661", "offset=²", "limit=" + "1" * 30])
def test_page_arguments_of_other_digits_are_refused(hostile: FlaskClient, query: str) -> None:
    answer = hostile.get(f"/api/items?{query}")
    assert answer.status_code == 400, answer.data


def test_a_lone_surrogate_is_refused(hostile: FlaskClient) -> None:
    status, body = post(hostile, None, raw=b'{"name": "a\\ud800b"}')
    assert status == 422, body
    assert "surrogate" in body["error"]["details"]["fields"]["name"]


@pytest.mark.parametrize(("field", "value"), [("name", "a\x00b"), ("name", "a\x1b[31mred"), ("name", "tab\there"),
                                              ("description", "nul\x00"), ("description", "bell\x07")])  # fmt: skip
def test_control_characters_are_refused(hostile: FlaskClient, field: str, value: str) -> None:
    status, body = post(hostile, {"name": "ok", field: value})
    assert status == 422, body
    assert "control characters" in body["error"]["details"]["fields"][field]


def test_a_description_keeps_its_line_breaks_and_tabs(hostile: FlaskClient) -> None:
    status, body = post(hostile, {"name": "multi", "description": "one\n\ttwo\r\n"})
    assert status == 201, body
    assert hostile.get(f"/api/items/{body['id']}").get_json()["description"] == "one\n\ttwo\r\n"


def test_deeply_nested_json_is_refused(hostile: FlaskClient) -> None:
    status, body = post(hostile, None, raw=b"[" * 8000 + b"]" * 8000)
    assert status == 400, body
    assert "nested too deeply" in body["error"]["message"]


def test_a_deep_json_object_under_the_limit_is_a_validation_error(hostile: FlaskClient) -> None:
    status, _ = post(hostile, None, raw=b'{"name": ' + b"[" * 50 + b"]" * 50 + b"}")
    assert status == 422


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(["name", "description", "quantity", "other"]) | st.text(max_size=6),
                         json_values, max_size=4) | json_values  # fmt: skip


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, raw_id=st.text(max_size=24), query=st.text(max_size=24))
def test_the_item_api_never_answers_500(hostile: FlaskClient, body: object, raw_id: str, query: str) -> None:
    status, answer = post(hostile, body)
    assert status in (201, 400, 415, 422), (status, answer)
    assert answer is not None and ("error" in answer or "id" in answer)
    segment, value = quote(raw_id, safe=""), quote(query, safe="")
    for path in (f"/api/items/{segment}", f"/api/items?limit={value}", f"/api/items?offset={value}"):
        got = hostile.get(path, headers=AUTH)
        assert got.status_code < 500, (path, got.status_code, got.data[:200])
        assert got.is_json, (path, got.data[:200])
    if status == 201:
        patched = hostile.patch(f"/api/items/{answer['id']}", json=body if isinstance(body, dict) else {}, headers=AUTH)
        assert patched.status_code in (200, 400, 422), patched.data[:200]

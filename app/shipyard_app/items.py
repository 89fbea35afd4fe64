"""/api/items: a small JSON CRUD API with strict input checks.

Writes need ``Authorization: Bearer <APP_API_TOKEN>`` when a token is set.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from .db import DatabaseUnavailable, Store
from .errors import ApiError, error_response

bp = Blueprint("items", __name__, url_prefix="/api/items")

LIMITS = {"name": 100, "description": 1000}
MAX_QUANTITY = 2**31 - 1
MAX_ID = 2**63 - 1
FIELD_TYPES = {"name": str, "description": str, "quantity": int}


def store() -> Store:
    return current_app.extensions["shipyard_store"]


@bp.before_request
def _authorize() -> None:
    token = current_app.config["SHIPYARD"].api_token
    if token is None or request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "unauthorized", "writes need 'Authorization: Bearer <token>' with the API token")


def _ascii_int(raw: str) -> int | None:
    """The value of a string of ASCII digits, or None. str.isdigit() alone also
    accepts digits int() refuses ('²') and other scripts' digits."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
        return None
    return int(raw)


def _item_id(raw: str) -> int:
    value = _ascii_int(raw)
    if value is None or not 0 < value <= MAX_ID:
        raise ApiError(400, "bad_request", f"item id must be a positive integer, not {raw[:40]!r}")
    return value


def _body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise ApiError(400, "bad_request", "the body is nested too deeply") from None
    if data is None:
        raise ApiError(400, "bad_request", "the body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return data


# Control characters are refused in stored text: NUL cannot be stored by
# PostgreSQL at all, and the others (escape sequences among them) have no
# place in an item's name; a description may hold tabs and line breaks.
_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}
_MULTILINE_OK = {"\t", "\n", "\r"}


def _text_problem(key: str, value: str) -> str | None:
    """What is wrong with a text field, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds a lone surrogate)"
    multiline = key == "description"
    refused = _CONTROL - _MULTILINE_OK if multiline else _CONTROL
    if any(ch in refused for ch in value):
        return "must not contain control characters" + (" other than tab and line breaks" if multiline else "")
    if key == "name" and not value.strip():
        return "must not be empty"
    if len(value) > LIMITS[key]:
        return f"must be at most {LIMITS[key]} characters"
    return None


def _validate(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    problems: dict[str, str] = {}
    for key in data.keys() - FIELD_TYPES.keys():
        problems[key[:40]] = "unknown field"
    if not partial and "name" not in data:
        problems["name"] = "is required"
    if partial and not data.keys() & FIELD_TYPES.keys():
        problems["body"] = "give at least one of: " + ", ".join(FIELD_TYPES)
    for key, kind in FIELD_TYPES.items():
        if key not in data:
            continue
        value = data[key]
        # bool is an int in Python, but not in JSON.
        if not isinstance(value, kind) or isinstance(value, bool):
            problems[key] = "must be a string" if kind is str else "must be an integer"
        elif kind is str:
            if problem := _text_problem(key, value):
                problems[key] = problem
        elif not 0 <= value <= MAX_QUANTITY:
            problems[key] = f"must be between 0 and {MAX_QUANTITY}"
    if problems:
        raise ApiError(422, "validation_failed", "the item is not valid", {"fields": problems})
    clean = {k: data[k] for k in FIELD_TYPES if k in data}
    if "name" in clean:
        clean["name"] = clean["name"].strip()
    return clean


def _page_arg(name: str, default: int, high: int) -> int:
    value = _ascii_int(request.args.get(name, str(default)))
    if value is None or value > high:
        raise ApiError(400, "bad_request", f"query parameter '{name}' must be an integer from 0 to {high}")
    return value


@bp.errorhandler(DatabaseUnavailable)
def _db_down(err: DatabaseUnavailable) -> ResponseReturnValue:
    current_app.logger.error("database unavailable: %s", err)
    return error_response(503, "unavailable", "the database is not available; try again later")


@bp.get("")
def list_items() -> ResponseReturnValue:
    limit = _page_arg("limit", 20, 100) or 20
    offset = _page_arg("offset", 0, MAX_QUANTITY)
    items, total = store().list(limit, offset)
    return jsonify(items=items, limit=limit, offset=offset, total=total)


@bp.post("")
def create_item() -> ResponseReturnValue:
    data = _validate(_body(), partial=False)
    item = store().create(data["name"], data.get("description", ""), data.get("quantity", 0))
    return jsonify(item), 201, {"Location": url_for("items.get_item", raw_id=item["id"])}


@bp.get("/<raw_id>")
def get_item(raw_id: str) -> ResponseReturnValue:
    item = store().get(_item_id(raw_id))
    if item is None:
        raise ApiError(404, "not_found", f"no item with id {raw_id}")
    return jsonify(item)


@bp.route("/<raw_id>", methods=["PUT", "PATCH"])
def update_item(raw_id: str) -> ResponseReturnValue:
    item_id = _item_id(raw_id)
    data = _validate(_body(), partial=request.method == "PATCH")
    if request.method == "PUT":
        data.setdefault("description", "")
        data.setdefault("quantity", 0)
    item = store().update(item_id, data)
    if item is None:
        raise ApiError(404, "not_found", f"no item with id {raw_id}")
    return jsonify(item)


@bp.delete("/<raw_id>")
def delete_item(raw_id: str) -> ResponseReturnValue:
    if not store().delete(_item_id(raw_id)):
        raise ApiError(404, "not_found", f"no item with id {raw_id}")
    return "", 204

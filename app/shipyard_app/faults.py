"""Fault injection for demos and alert tests: /faults/delay and /faults/error.

Off unless APP_FAULT_INJECTION_ENABLED=true; then these routes add latency or
answer with a chosen 5xx, so dashboards and alerts can be shown to work.
"""

from __future__ import annotations

import time

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from .errors import ApiError

bp = Blueprint("faults", __name__, url_prefix="/faults")


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, "bad_request", f"query parameter '{name}' must be an integer from {low} to {high}")
    return int(raw)


@bp.get("/delay")
def delay() -> ResponseReturnValue:
    ms = _int_arg("ms", 500, 0, 30_000)
    time.sleep(ms / 1000)
    return {"delayed_ms": ms}


@bp.get("/error")
def error() -> ResponseReturnValue:
    status = _int_arg("status", 500, 500, 599)
    raise ApiError(status, "injected_fault", f"fault injected on purpose (status {status})")

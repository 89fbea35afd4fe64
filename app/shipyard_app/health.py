"""Liveness (/health: the process answers) and readiness (/ready: it can serve)."""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from .db import DatabaseUnavailable

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/ready")
def ready() -> ResponseReturnValue:
    flag = current_app.config["SHIPYARD"].drain_flag
    if flag and os.path.exists(flag):
        return jsonify(status="draining", reason="shutting down: finishing in-flight requests"), 503
    try:
        current_app.extensions["shipyard_store"].ping()
    except DatabaseUnavailable as err:
        return jsonify(status="unavailable", reason=f"database: {err}"), 503
    return jsonify(status="ready")

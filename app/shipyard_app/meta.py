"""/ and /info: what this service is and which build is running."""

from __future__ import annotations

import socket

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("meta", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    cfg = current_app.config["SHIPYARD"]
    return jsonify(
        name=cfg.name,
        description="shipyard demo service: a small JSON API for items, with health, readiness and Prometheus metrics.",
        links={"health": "/health", "ready": "/ready", "info": "/info", "metrics": "/metrics", "items": "/api/items"},
    )


@bp.get("/info")
def info() -> ResponseReturnValue:
    cfg = current_app.config["SHIPYARD"]
    return jsonify(
        name=cfg.name,
        version=cfg.version,
        git_revision=cfg.git_revision,
        started_at=current_app.config["STARTED_AT"],
        hostname=socket.gethostname(),
        database=current_app.extensions["shipyard_store"].kind,
    )

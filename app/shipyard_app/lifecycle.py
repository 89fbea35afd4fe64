"""Per-request plumbing: request ids, timing, access log lines and metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from . import metrics

access_log = logging.getLogger("shipyard_app.access")
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _route() -> str:
    # The route template keeps label cardinality bounded; unmatched paths share one label.
    return request.url_rule.rule if request.url_rule is not None else "unmatched"


def register(app: Flask) -> None:
    metrics_on = app.config["SHIPYARD"].metrics_enabled

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        if metrics_on:
            metrics.IN_FLIGHT.inc()
            g.in_flight = True

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = _route()
        if metrics_on:
            metrics.REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            metrics.LATENCY.labels(request.method, route).observe(elapsed)
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "ecs": {
                    "event.kind": "event",
                    "event.category": ["web"],
                    "event.duration": int(elapsed * 1e9),
                    "http.request.id": g.get("request_id"),
                    "http.request.method": request.method,
                    "http.response.status_code": response.status_code,
                    "url.path": request.path,
                    "url.route": route,
                    "client.ip": request.remote_addr,
                    "user_agent.original": request.user_agent.string or None,
                }
            },
        )
        return response

    @app.teardown_request
    def _teardown(_exc: BaseException | None) -> None:
        if g.pop("in_flight", False):
            metrics.IN_FLIGHT.dec()

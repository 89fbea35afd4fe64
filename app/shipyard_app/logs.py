"""JSON log lines with ECS field names, one object per line on stdout."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

ECS_VERSION = "8.11.0"
SERVICE = {"name": os.environ.get("APP_NAME", "shipyard-app")}

# Attributes every LogRecord has; anything else passed in `extra` is an ECS field.
_RECORD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class EcsJsonFormatter(logging.Formatter):
    """Format a record as one ECS-shaped JSON object.

    Fields given with ``extra={"ecs": {...}}`` are merged in with their dotted
    ECS names (``http.response.status_code``); Elasticsearch expands the dots.
    """

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "@timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "log.level": record.levelname.lower(),
            "message": record.getMessage(),
            "ecs.version": ECS_VERSION,
            "log.logger": record.name,
            "process.pid": record.process,
            "service.name": SERVICE["name"],
        }
        if record.exc_info:
            doc["error.type"] = record.exc_info[0].__name__ if record.exc_info[0] else "Exception"
            doc["error.message"] = str(record.exc_info[1])
            doc["error.stack_trace"] = self.formatException(record.exc_info)
        doc.update(getattr(record, "ecs", {}) or {})
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and key != "ecs":
                doc[f"labels.{key}"] = value if isinstance(value, str | int | float | bool) else str(value)
        return json.dumps(doc, default=str, separators=(",", ":"))


def handler() -> logging.Handler:
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(EcsJsonFormatter())
    return out


def configure(level: str, service_name: str) -> None:
    """Route the root logger (and so Flask's and werkzeug's) to JSON on stdout."""
    SERVICE["name"] = service_name
    root = logging.getLogger()
    root.handlers[:] = [handler()]
    root.setLevel(level)
    # Werkzeug's own access lines would duplicate ours (dev server only).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


# gunicorn's logging, as a dictConfig for gunicorn.conf.py: its error log in the
# same JSON shape; its access log stays off because the app logs each request.
GUNICORN_LOGCONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "shipyard_app.logs.EcsJsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
    "root": {"handlers": ["stdout"], "level": "INFO"},
}

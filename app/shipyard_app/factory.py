"""The application factory."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from flask import Flask

from . import errors, faults, health, items, lifecycle, logs, meta, metrics
from .config import Config
from .db import DatabaseUnavailable, Store


def create_app(config: Config | None = None) -> Flask:
    cfg = config or Config.from_env()
    logs.configure(cfg.log_level, cfg.name)
    app = Flask(__name__)
    # A path with doubled slashes is not found (JSON 404), rather than redirected by an HTML page.
    app.url_map.merge_slashes = False
    app.config.update(
        SHIPYARD=cfg,
        MAX_CONTENT_LENGTH=cfg.max_body_bytes,
        STARTED_AT=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    store = Store(cfg.database_url)
    app.extensions["shipyard_store"] = store
    # The schema is migrated beside the start, not before it: a database still
    # starting (a Service with no endpoint yet drops the connection) would hold
    # the worker for the whole connect timeout before it answers /health. Until
    # the migration has worked, /ready tries it again and answers 503.
    threading.Thread(target=_migrate_at_start, args=(app, store), name="schema-at-start", daemon=True).start()

    errors.register(app)
    lifecycle.register(app)
    for blueprint in (meta.bp, health.bp, items.bp):
        app.register_blueprint(blueprint)
    if cfg.metrics_enabled:
        app.register_blueprint(metrics.bp)
        metrics.BUILD_INFO.labels(cfg.version, cfg.git_revision).set(1)
    if cfg.fault_injection_enabled:
        app.register_blueprint(faults.bp)
    app.logger.info("started %s %s (%s) with %s storage", cfg.name, cfg.version, cfg.git_revision, store.kind)
    return app


def _migrate_at_start(app: Flask, store: Store) -> None:
    try:
        store.ensure_schema()
    except DatabaseUnavailable as err:
        # Stay alive and report not ready; the schema is migrated when the database answers.
        app.logger.warning("database not available at start, not ready until it is: %s", err)
    except Exception:
        # Anything else is logged as one JSON line with its stack trace, not printed raw by the
        # thread's end; /ready tries the migration again and answers an error until it works.
        app.logger.exception("the schema migration at start failed")
    finally:
        store.release()

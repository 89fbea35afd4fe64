"""gunicorn settings for shipyard_app, all overridable by environment variables.

Order matters: PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is
imported anywhere (it picks its value storage at import time), so this file
sets it first. Importing it creates no metric file; the app's metrics do,
in the workers. It is imported here, not in child_exit: that hook runs while
the master handles SIGCHLD, and two workers exiting together would re-enter
a half-done import.

Shutdown: on SIGTERM the master marks the drain flag, so /ready answers 503
while workers keep serving for APP_DRAIN_SECONDS (time for the Service to stop
routing here); then workers stop accepting and finish their in-flight requests
within graceful_timeout.
"""

import os
import shutil
import time
from pathlib import Path

_tmp = Path(os.environ.get("TMPDIR", "/tmp"))  # noqa: S108 - a tmpfs in the container
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_tmp / "shipyard-metrics"))
os.environ.setdefault("APP_DRAIN_FLAG", str(_tmp / "shipyard-draining"))

from prometheus_client import multiprocess  # noqa: E402 - after PROMETHEUS_MULTIPROC_DIR is set
from shipyard_app.logs import GUNICORN_LOGCONFIG  # noqa: E402 - light: imports no metrics

bind = f"{os.environ.get('APP_BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"  # noqa: S104 - in a container; make app-run binds 127.0.0.1
workers = int(os.environ.get("APP_WORKERS", "2"))
threads = int(os.environ.get("APP_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("APP_TIMEOUT_SECONDS", "30"))
graceful_timeout = int(os.environ.get("APP_GRACEFUL_TIMEOUT_SECONDS", "20"))
keepalive = 5
# Heartbeat files on a tmpfs: the root filesystem may be read-only.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - gunicorn's documented choice
accesslog = None  # the app logs every request itself, in JSON
errorlog = "-"
logconfig_dict = GUNICORN_LOGCONFIG
DRAIN_SECONDS = float(os.environ.get("APP_DRAIN_SECONDS", "0"))


def on_starting(server):
    """Start with an empty metrics directory and no drain flag; hook SIGTERM."""
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    Path(os.environ["APP_DRAIN_FLAG"]).unlink(missing_ok=True)

    graceful_stop = server.handle_term

    def drain_then_stop():
        Path(os.environ["APP_DRAIN_FLAG"]).touch()
        server.log.info("SIGTERM: draining for %.1fs (readiness fails), then stopping gracefully", DRAIN_SECONDS)
        time.sleep(DRAIN_SECONDS)
        graceful_stop()

    server.handle_term = drain_then_stop


def child_exit(server, worker):
    """Drop a dead worker's live gauges (in-flight requests) from the merged metrics."""
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    Path(os.environ["APP_DRAIN_FLAG"]).unlink(missing_ok=True)

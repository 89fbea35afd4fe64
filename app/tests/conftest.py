"""Fixtures: the Flask app and client, a real gunicorn server, a real PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from shipyard_app.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
from appserver import start_app
from pgtmp import temporary_postgres
from shipyard_app.factory import create_app

APP_DIR = Path(__file__).resolve().parents[1]
REPO = APP_DIR.parent
TOKEN = "test-token-" + "x" * 16


@pytest.fixture
def make_app() -> Iterator[Callable[[Config], Flask]]:
    """Build apps from configs; their database connections are closed after the test."""
    apps: list[Flask] = []

    def make(config: Config) -> Flask:
        apps.append(create_app(config))
        return apps[-1]

    yield make
    for built in apps:
        built.extensions["shipyard_store"].close()


@pytest.fixture
def app(make_app: Callable[[Config], Flask], tmp_path: Path) -> Flask:
    return make_app(Config(database_url=f"sqlite:///{tmp_path}/items.db", fault_injection_enabled=True))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api_token() -> str:
    return TOKEN


@pytest.fixture
def auth_client(make_app: Callable[[Config], Flask], tmp_path: Path) -> FlaskClient:
    return make_app(Config(database_url=f"sqlite:///{tmp_path}/items.db", api_token=TOKEN)).test_client()


# The request id that wait_http's probes carry. The app logs it as http.request.id, so a test
# tells the fixture's probes from its own requests by this mark, however many probes it took:
# on a loaded machine the server can answer a probe after the client's 1 s timeout, and the
# client then probes again.
PROBE_ID = "fixture-start-probe"


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    probe = urllib.request.Request(url, headers={"X-Request-ID": PROBE_ID})  # noqa: S310 - loopback test URL
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(probe, timeout=1):  # noqa: S310 - loopback test URL
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.strip()]

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]

    def access(self, *, probes: bool = False) -> list[dict]:
        """The access log's records: the test's own requests, or with probes=True wait_http's."""
        return [
            r
            for r in self.records()
            if r.get("log.logger") == "shipyard_app.access" and (r.get("http.request.id") == PROBE_ID) == probes
        ]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start the app under its real server (gunicorn.conf.py) with extra env."""
    started: list[Server] = []

    def start(**env: str) -> Server:
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=tmp_path))
        log = run_dir / "stdout.log"
        with log.open("w") as out:
            process, url = start_app(run_dir, env, stdout=out)
        server = Server(url, process, log)
        started.append(server)
        wait_http(server.url + "/health")
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 (Debian's package), torn down after the session."""
    with temporary_postgres() as url:
        yield url

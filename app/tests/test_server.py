"""The app under its real server: gunicorn with several workers, as it runs in the image."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .conftest import Server

Start = Callable[..., Server]


def get(url: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


def scrape_total(server: Server, exclude_route: str = "/metrics") -> dict[tuple[str, str, str], float]:
    _, body, _ = get(server.url + "/metrics")
    totals = {}
    pattern = re.compile(r'^http_requests_total\{method="([^"]+)",route="([^"]+)",status="([^"]+)"\} ([0-9.e+]+)$')
    for line in body.decode().splitlines():
        match = pattern.match(line)
        if match and match.group(2) != exclude_route:
            totals[match.groups()[:3]] = float(match.group(4))
    return totals


def test_metrics_count_every_request_across_workers(gunicorn: Start) -> None:
    server = gunicorn(APP_WORKERS="3", APP_THREADS="1", APP_FAULT_INJECTION_ENABLED="true")
    sent = {"list": 240, "missing": 60, "error": 30, "slow": 24}
    with ThreadPoolExecutor(max_workers=12) as pool:
        # Slow requests keep workers busy, so the others must take connections too.
        jobs = [pool.submit(get, server.url + "/faults/delay?ms=100") for _ in range(sent["slow"])]
        jobs += [pool.submit(get, server.url + "/api/items") for _ in range(sent["list"])]
        jobs += [pool.submit(get, server.url + "/api/items/999999") for _ in range(sent["missing"])]
        jobs += [pool.submit(get, server.url + "/faults/error?status=503") for _ in range(sent["error"])]
        statuses = [job.result()[0] for job in jobs]
    assert statuses.count(200) == sent["list"] + sent["slow"] and statuses.count(404) == sent["missing"]

    # The requests must have been spread over more than one worker for this to prove anything.
    pids = {r["process.pid"] for r in server.access()}
    assert len(pids) > 1, f"all requests were answered by one worker: {pids}"

    totals = scrape_total(server)
    # The fixture's start-up probes, marked by their request id: the metric counts each one served.
    probes = server.access(probes=True)
    assert probes and {r["url.path"] for r in probes} == {"/health"}
    assert totals.pop(("GET", "/health", "200")) == len(probes)
    assert totals[("GET", "/api/items", "200")] == sent["list"]
    assert totals[("GET", "/api/items/<raw_id>", "404")] == sent["missing"]
    assert totals[("GET", "/faults/error", "503")] == sent["error"]
    assert totals[("GET", "/faults/delay", "200")] == sent["slow"]
    assert sum(totals.values()) == sum(sent.values())

    _, body, _ = get(server.url + "/metrics")
    text = body.decode()
    assert 'http_request_duration_seconds_count{method="GET",route="/api/items"} 240.0' in text
    assert "http_requests_in_flight 1.0" in text  # the scrape itself
    assert 'shipyard_app_build_info{revision="unknown",version="0.1.0"} 1.0' in text


def test_every_log_line_is_ecs_json_and_secrets_stay_out(gunicorn: Start) -> None:
    token = "tok-" + "s3cr3t" * 4
    server = gunicorn(APP_API_TOKEN=token, APP_FAULT_INJECTION_ENABLED="true")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    get(server.url + "/api/items", data=b'{"name": "a"}', headers=headers)
    get(server.url + "/api/items", data=b'{"name": "a"}', headers={"Authorization": "Bearer nope"})
    get(server.url + "/api/items", data=b"{oops", headers=headers)
    get(server.url + "/faults/error")
    status, _, response_headers = get(server.url + "/health", headers={"X-Request-ID": "trace-12345678"})
    assert status == 200 and response_headers["X-Request-ID"] == "trace-12345678"
    assert server.stop() == 0

    lines = server.lines()
    records = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    assert all(isinstance(r, dict) for r in records)
    for record in records:
        assert {"@timestamp", "log.level", "message", "ecs.version"} <= record.keys(), record
    loggers = {r["log.logger"] for r in records}
    assert {"gunicorn.error", "shipyard_app.access", "shipyard_app.factory"} <= loggers
    # The fixture's start-up probes carry their own request id (PROBE_ID); the rest are the test's.
    assert server.access(probes=True), "the fixture's start-up probe is not in the access log"
    access = server.access()
    assert [r["http.response.status_code"] for r in access] == [201, 401, 400, 500, 200]
    for record in access:
        assert record["http.request.method"] in {"GET", "POST"}
        assert record["url.path"].startswith("/")
        assert isinstance(record["event.duration"], int) and record["event.duration"] > 0
        assert re.fullmatch(r"[0-9a-z.-]{8,64}", record["http.request.id"])
    assert access[-1]["http.request.id"] == "trace-12345678"
    assert token not in "\n".join(lines)


def test_sigterm_drains_then_finishes_in_flight_requests(gunicorn: Start) -> None:
    server = gunicorn(APP_DRAIN_SECONDS="2", APP_FAULT_INJECTION_ENABLED="true")
    slow: dict[str, object] = {}

    def slow_request() -> None:
        slow["result"] = get(server.url + "/faults/delay?ms=2500")

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(0.3)
    server.process.terminate()
    time.sleep(0.5)
    ready_status, ready_body, _ = get(server.url + "/ready")
    health_status, _, _ = get(server.url + "/health")
    worker.join(timeout=30)
    assert server.process.wait(timeout=30) == 0
    assert (ready_status, json.loads(ready_body)["status"]) == (503, "draining")
    assert health_status == 200
    assert slow["result"][0] == 200


def test_without_its_database_the_app_lives_but_is_not_ready(gunicorn: Start) -> None:
    # Nothing listens on port 1: the app boots (liveness), is not ready, and says why.
    server = gunicorn(DATABASE_URL="postgresql://u:p@127.0.0.1:1/db")
    status, body, _ = get(server.url + "/ready")
    assert status == 503
    reason = json.loads(body)
    assert reason["status"] == "unavailable" and reason["reason"].startswith("database: ")
    status, body, _ = get(server.url + "/api/items")
    assert (status, json.loads(body)["error"]["code"]) == (503, "unavailable")
    assert "p@127.0.0.1" not in server.log.read_text(), "the database password leaked into the logs"


def test_a_database_that_does_not_answer_yet_holds_neither_liveness_nor_the_start(gunicorn: Start) -> None:
    # A database still starting: its port takes the connection and says nothing
    # (on a cluster, a Service with no endpoint yet drops it), so each attempt
    # lasts the whole connect timeout (3 s). The workers answer /health while the
    # start's migration still waits; readiness stays 503 and says why.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # never accepted: the kernel completes the handshake and nothing is ever sent
    try:
        port = silent.getsockname()[1]
        server = gunicorn(DATABASE_URL=f"postgresql://u:p@127.0.0.1:{port}/db")
        answered = server.log.read_text()
        assert "database not available at start" not in answered, "/health waited for the start's migration"
        deadline = time.monotonic() + 20
        while "database not available at start" not in server.log.read_text():
            assert time.monotonic() < deadline, "the start's migration never gave up on the silent database"
            time.sleep(0.2)
        status, body, _ = get(server.url + "/ready")
        assert status == 503 and json.loads(body)["reason"].startswith("database: ")
    finally:
        silent.close()

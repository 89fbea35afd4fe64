"""A real Prometheus and Alertmanager (the deployed versions) with the rendered
rules and routing scrape the real app on loopback: healthy traffic stays
quiet; driven errors and latency fire the alerts, and Alertmanager delivers
them to a webhook. The dashboard's queries run against the live data."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from .conftest import get_json, render, wait_until
from .test_rules import dashboard_queries

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hack"))
from appserver import start_app  # noqa: E402

FAST_ALERTS = {
    "monitoring_alert_rate_window": "30s",
    "monitoring_alert_error_ratio_for": "5s",
    "monitoring_alert_latency_p99_seconds": 0.2,
    "monitoring_alert_latency_for": "5s",
    "monitoring_alertmanager_group_wait": "1s",
    "monitoring_alertmanager_group_interval": "1s",
    "monitoring_alertmanager_default_receiver": "oncall",
    "monitoring_alertmanager_watchdog_receiver": "deadmansswitch",
    "monitoring_alertmanager_receivers": [
        {"name": "oncall", "webhook_configs": [{"url": "https://oncall.example.test/hook"}]},
        {"name": "deadmansswitch", "webhook_configs": [{"url": "https://dms.example.test/hook"}]},
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webhook:
    """A receiver on loopback that records Alertmanager's notifications by path."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict]] = {}
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.received.setdefault(self.path, []).append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alertnames(self, path: str) -> set[str]:
        return {a["labels"]["alertname"] for body in self.received.get(path, []) for a in body["alerts"]}


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def drive(url: str, paths: list[str], stop: threading.Event, pause: float = 0.0) -> None:
    """Request the paths in turn until stopped, pausing between requests."""
    while not stop.is_set():
        for path in paths:
            try:
                with urllib.request.urlopen(url + path, timeout=5) as response:  # noqa: S310 (loopback)
                    response.read()
            except urllib.error.HTTPError as error:
                error.close()  # 5xx answers are the point
            except OSError:
                if stop.is_set():
                    return  # the app is going away at the end of the test
                raise
            time.sleep(pause)


def alerts(prometheus: str) -> dict[str, str]:
    data = get_json(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
    return {a["labels"]["alertname"]: a["state"] for a in data}


def start_alertmanager(
    tools: dict[str, Path], rendered: Path, hook: Webhook, tmp_path: Path, processes: list[subprocess.Popen]
) -> int:
    """Alertmanager with the rendered routing; the test's webhook goes where the receivers' URLs were."""
    config = yaml.safe_load((rendered / "files/alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"{hook.url}/{receiver['name']}"
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    processes.append(subprocess.Popen(
        [tools["alertmanager"], f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))  # fmt: skip
    return port


def start_prometheus(
    tools: dict[str, Path], rendered: Path, app_url: str, am_port: int, tmp_path: Path,
    processes: list[subprocess.Popen],
) -> str:  # fmt: skip
    """Prometheus with the rendered rules; a static target stands in for pod discovery on loopback."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rendered / "files/shipyard.rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{
            "job_name": "shipyard-app",
            "static_configs": [{"targets": [urllib.parse.urlsplit(app_url).netloc],
                                "labels": {"namespace": "shipyard", "pod": "shipyard-app-7d9c8b6f5-local"}}],
        }],
    }  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    processes.append(subprocess.Popen(
        [tools["prometheus"], f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
         # Send the first notification at once, not after the default minute.
         "--rules.alert.resend-delay=1s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: [t for t in get_json(f"{url}/api/v1/targets")["data"]["activeTargets"] if t["health"] == "up"],
        30, "the app target to be up",
    )  # fmt: skip
    return url


def test_prometheus_fires_and_alertmanager_delivers_the_app_alerts(
    tools: dict[str, Path], tmp_path: Path, processes: list[subprocess.Popen]
) -> None:
    rendered = render(tmp_path / "render", FAST_ALERTS)
    hook = Webhook()

    # The app, with fault injection on.
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    app, app_url = start_app(app_dir, {"APP_FAULT_INJECTION_ENABLED": "true", "APP_WORKERS": "2"})
    processes.append(app)
    wait_until(lambda: get_json(f"{app_url}/health"), 30, "the app")

    am_port = start_alertmanager(tools, rendered, hook, tmp_path, processes)
    prometheus = start_prometheus(tools, rendered, app_url, am_port, tmp_path, processes)

    # About 20 healthy requests a second.
    stop = threading.Event()
    healthy = threading.Thread(target=drive, args=(app_url, ["/api/items", "/health", "/"], stop, 0.05), daemon=True)
    healthy.start()
    fault_paths = ["/faults/error?status=503", "/faults/delay?ms=400"]
    faults = threading.Thread(target=drive, args=(app_url, fault_paths, stop), daemon=True)
    try:
        # Healthy traffic: the Watchdog fires and reaches its receiver; the app alerts stay quiet.
        wait_until(lambda: "Watchdog" in hook.alertnames("/deadmansswitch"), 30, "the Watchdog notification")
        time.sleep(10)
        quiet = alerts(prometheus)
        assert "ShipyardAppHighErrorRatio" not in quiet, quiet
        assert "ShipyardAppHighLatencyP99" not in quiet, quiet
        assert "ShipyardAppTargetDown" not in quiet, quiet

        # Errors and slow answers (about 2 a second each, ~10% of all): both alerts fire, and the
        # error one reaches the on-call receiver.
        faults.start()
        states: dict[str, str] = {}

        def both_firing() -> bool:
            states.update(alerts(prometheus))
            return states.get("ShipyardAppHighErrorRatio") == states.get("ShipyardAppHighLatencyP99") == "firing"

        wait_until(both_firing, 90, lambda: f"the error-ratio and latency alerts to fire (states: {states})")
        wait_until(lambda: "ShipyardAppHighErrorRatio" in hook.alertnames("/oncall"), 30, "the on-call notification")
    finally:
        stop.set()
        healthy.join(timeout=10)
        if faults.is_alive():
            faults.join(timeout=10)
        hook.server.shutdown()
        hook.server.server_close()
    assert "Watchdog" not in hook.alertnames("/oncall"), "the Watchdog must go to its own receiver only"

    # Every dashboard query runs on the live data; the headline ones return series.
    dashboard = json.loads((rendered / "files/shipyard-app.json").read_text())
    queries = dashboard_queries(dashboard, window="30s")
    results = {}
    for query in queries:
        answer = get_json(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
        assert answer["status"] == "success", (query, answer)
        results[query] = answer["data"]["result"]
    empty = [q for q, r in results.items() if not r and "5.." not in q]
    assert empty == [], f"dashboard queries with no data: {empty}"
